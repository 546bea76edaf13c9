import { SendMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { Recipient } from "./broadcast.js";

/** A slice of a large broadcast, handed to a fan-out worker. */
export interface FanoutBatch {
  /** The serialized frame. */
  data: string;
  recipients: Recipient[];
  /** Recipients whose session ended at or before this (epoch seconds) are closed instead. */
  expiredAt: number;
  /** The room it was sent to: lets the worker drop the membership of a connection that has no record left. */
  room?: string;
  /** Gone connections are forgotten without announcing their departure (the frame is itself such an announcement). */
  silentCleanup?: true;
}

/** Where the message handler hands batches it will not send itself. */
export interface FanoutQueue {
  enqueue(batch: FanoutBatch): Promise<void>;
}

/** The stack's SQS queue; a worker Lambda consumes it. */
export class SqsFanoutQueue implements FanoutQueue {
  constructor(
    private readonly client: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async enqueue(batch: FanoutBatch): Promise<void> {
    await this.client.send(new SendMessageCommand({ QueueUrl: this.queueUrl, MessageBody: JSON.stringify(batch) }));
  }
}

/** Regroups pages of any size into batches of `size`, holding at most one batch. */
export async function* inBatches<T>(pages: AsyncIterable<readonly T[]>, size: number): AsyncGenerator<T[]> {
  let batch: T[] = [];
  for await (const page of pages) {
    for (const item of page) {
      batch.push(item);
      if (batch.length === size) {
        yield batch;
        batch = [];
      }
    }
  }
  if (batch.length > 0) yield batch;
}
