import { createHash, randomUUID } from "node:crypto";
import type { SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import type { Clock } from "../core/clock.js";
import { type FanoutBatch, type FanoutQueue, SQS_REFUSED_CHARACTER, toMessageBody } from "../core/fanout-queue.js";
import type { InFlight } from "./in-flight.js";
import type { Outcome } from "./invoker.js";

export interface FanoutQueueSettings {
  /** Worker invocations at once: the Lambda concurrency the queue gets. @default 4 */
  workers: number;
  /** Receives of a batch before it is given up, as the stack's dead-letter queue after `MAX_RECEIVE_COUNT`. @default 3 */
  maxReceives: number;
  /** In SQS events' ARNs. */
  region: string;
  accountId: string;
}

/** What the queue reports; the sandbox log turns it into lines. */
export interface FanoutQueueLog {
  /** The worker invocation threw or timed out: every record in it is received again. */
  workerFailed(messageId: string, error: unknown): void;
  /** A batch failed its last receive; on AWS it would now sit in the dead-letter queue. */
  deadLettered(messageId: string, receives: number): void;
}

export interface LocalFanoutQueueOptions extends FanoutQueueSettings {
  /** Runs the worker handler with one event (through the sandbox's invoker, so it is seen as a Lambda invocation). */
  invoke: (event: SQSEvent) => Promise<Outcome<SQSBatchResponse>>;
  /** Counts every batch from enqueue until it is done, so `hooks.idle()` waits for queued broadcasts too. */
  inFlight: InFlight;
  clock: Clock;
  log: FanoutQueueLog;
}

interface QueuedMessage {
  readonly messageId: string;
  readonly body: string;
  readonly sentAt: number;
  receives: number;
  firstReceivedAt?: number;
  /** Ends the message's in-flight count. */
  readonly done: () => void;
}

/** Stands for the stack's SQS queue in the ARNs of events. */
const QUEUE_NAME = "sandbox-fanout";

/**
 * The stack's fan-out queue and its Lambda event source, in the process: batches are handed to the worker handler
 * with SQS-shaped events, one record per invocation (the event source's default batch size), at most `workers` at
 * once. As on AWS, `enqueue` returns once the batch is queued, not sent, and a batch sent with a delay is received
 * after it; records a worker reports as failed (or all
 * of them, when it throws or times out) are received again until `maxReceives`, then dropped as SQS would move them
 * to the dead-letter queue. Unlike SQS, a failed record is retried at once rather than after the visibility timeout,
 * and each is delivered exactly once otherwise.
 */
export class LocalFanoutQueue implements FanoutQueue {
  private readonly waiting: QueuedMessage[] = [];
  /** Messages sent with a delay, until it is over. */
  private readonly delayed = new Map<QueuedMessage, NodeJS.Timeout>();
  private running = 0;
  private closed = false;

  constructor(private readonly options: LocalFanoutQueueOptions) {}

  async enqueue(batch: FanoutBatch, delaySeconds = 0): Promise<void> {
    if (this.closed) throw new Error("the sandbox is closing: the fan-out queue takes no more batches");
    // The body is made and checked as SQS takes it: whatever would not survive the trip does not here either.
    const body = toMessageBody(batch);
    if (SQS_REFUSED_CHARACTER.test(body)) {
      throw Object.assign(new Error("Invalid characters found in the message body"), {
        name: "InvalidMessageContents",
      });
    }
    let done = () => {};
    void this.options.inFlight.track(
      new Promise<void>((resolve) => {
        done = resolve;
      }),
    );
    const message: QueuedMessage = { messageId: randomUUID(), body, sentAt: this.options.clock(), receives: 0, done };
    if (delaySeconds <= 0) return this.arrive(message);
    // Real time, as SQS's DelaySeconds: the sandbox's clock may be held still by tests.
    this.delayed.set(
      message,
      setTimeout(() => {
        this.delayed.delete(message);
        this.arrive(message);
      }, delaySeconds * 1000),
    );
  }

  private arrive(message: QueuedMessage): void {
    this.waiting.push(message);
    this.pump();
  }

  /** Batches queued and not yet received. */
  get depth(): number {
    return this.waiting.length + this.delayed.size;
  }

  /** Takes no more batches and forgets those not yet received or still delayed (workers already running finish). */
  close(): void {
    this.closed = true;
    for (const message of this.waiting.splice(0)) message.done();
    for (const [message, timer] of this.delayed) {
      clearTimeout(timer);
      message.done();
    }
    this.delayed.clear();
  }

  private pump(): void {
    while (this.running < this.options.workers && this.waiting.length > 0) {
      const message = this.waiting.shift() as QueuedMessage;
      this.running++;
      void this.receive(message).finally(() => {
        this.running--;
        this.pump();
      });
    }
  }

  private async receive(message: QueuedMessage): Promise<void> {
    message.receives++;
    message.firstReceivedAt ??= this.options.clock();
    const outcome = await this.options.invoke({ Records: [this.record(message)] });
    if (!outcome.ok) this.options.log.workerFailed(message.messageId, outcome.error);
    const failed =
      !outcome.ok ||
      outcome.value?.batchItemFailures?.some((failure) => failure.itemIdentifier === message.messageId) === true;
    if (!failed) return message.done();
    if (message.receives >= this.options.maxReceives || this.closed) {
      this.options.log.deadLettered(message.messageId, message.receives);
      return message.done();
    }
    this.waiting.push(message);
  }

  private record(message: QueuedMessage): SQSRecord {
    const { region, accountId } = this.options;
    return {
      messageId: message.messageId,
      receiptHandle: `${message.messageId}#${message.receives}`,
      body: message.body,
      attributes: {
        ApproximateReceiveCount: String(message.receives),
        SentTimestamp: String(message.sentAt),
        SenderId: accountId,
        ApproximateFirstReceiveTimestamp: String(message.firstReceivedAt ?? message.sentAt),
      },
      messageAttributes: {},
      md5OfBody: createHash("md5").update(message.body).digest("hex"),
      eventSource: "aws:sqs",
      eventSourceARN: `arn:aws:sqs:${region}:${accountId}:${QUEUE_NAME}`,
      awsRegion: region,
    };
  }
}
