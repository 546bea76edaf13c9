import { SendMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { Recipient } from "./broadcast.js";
import type { Logger } from "./logger.js";

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
  /** Sends to these recipients that failed for a moment and are being made again: the how-manieth resend. */
  resend?: number;
}

/** Where the message handler hands batches it will not send itself. */
export interface FanoutQueue {
  /** Queues a batch, for a worker to receive at once or after `delaySeconds`. */
  enqueue(batch: FanoutBatch, delaySeconds?: number): Promise<void>;
}

/**
 * How long a send that failed for a moment (throttled past its retries, a server error, no answer) waits before each
 * resend; after the last, it counts as failed for good. Long enough for a throttle or a full client buffer to pass;
 * the client orders late frames by id or version.
 */
export const RESEND_DELAYS_SECONDS: readonly number[] = [1, 5, 20];

/**
 * Queues the recipients of `batch` whose sends failed for a moment, to be sent the frame again after the next wait of
 * `RESEND_DELAYS_SECONDS`. Resolves to how many it queued: none once those waits are used up, or when the queue
 * refuses them (both logged).
 */
export async function resendLater(
  queue: FanoutQueue,
  batch: FanoutBatch,
  failed: Recipient[],
  logger: Logger,
): Promise<number> {
  if (failed.length === 0) return 0;
  const resend = (batch.resend ?? 0) + 1;
  const delaySeconds = RESEND_DELAYS_SECONDS[resend - 1];
  if (delaySeconds === undefined) {
    logger.warn("giving up on sends that kept failing", { recipients: failed.length, resends: resend - 1 });
    return 0;
  }
  try {
    await queue.enqueue({ ...batch, recipients: failed, resend }, delaySeconds);
    return failed.length;
  } catch (err) {
    logger.warn("fan-out queue refused a resend", { recipients: failed.length, error: err });
    return 0;
  }
}

/** The stack's SQS queue; a worker Lambda consumes it. */
export class SqsFanoutQueue implements FanoutQueue {
  constructor(
    private readonly client: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async enqueue(batch: FanoutBatch, delaySeconds?: number): Promise<void> {
    await this.client.send(
      new SendMessageCommand({
        QueueUrl: this.queueUrl,
        MessageBody: toMessageBody(batch),
        DelaySeconds: delaySeconds,
      }),
    );
  }
}

/** Characters SQS refuses in a message: all but tab, LF, CR, U+0020–U+D7FF, U+E000–U+FFFD and U+10000–U+10FFFF. */
export const SQS_REFUSED_CHARACTER = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

/**
 * A batch as an SQS message body: JSON, with U+FFFE and U+FFFF escaped. JSON escapes the other characters SQS refuses
 * (controls, lone surrogates) but not these two, which a chat message may hold: SQS would refuse the batch.
 */
export function toMessageBody(batch: FanoutBatch): string {
  return JSON.stringify(batch).replace(/[\uFFFE\uFFFF]/g, (c) => `\\u${c.charCodeAt(0).toString(16)}`);
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

/**
 * Splits pages into the first `size` items, still as the pages they came in (so that they can be sent while later
 * ones are read), and the pages after them. `rest` waits until `first` has been read to its end.
 */
export function splitFirst<T>(
  pages: AsyncIterable<readonly T[]>,
  size: number,
): { first: AsyncGenerator<readonly T[]>; rest: AsyncGenerator<readonly T[]> } {
  const iterator = pages[Symbol.asyncIterator]();
  let carried: readonly T[] = [];
  let firstRead!: { resolve: () => void; reject: (err: unknown) => void }; // set by the executor, synchronously
  const firstDone = new Promise<void>((resolve, reject) => {
    firstRead = { resolve, reject };
  });
  firstDone.catch(() => {}); // whoever reads `first` gets the error too
  async function* first() {
    let read = false;
    try {
      for (let count = 0; count < size; ) {
        const { value, done } = await iterator.next();
        if (done) break;
        const take = Math.min(size - count, value.length);
        count += take;
        if (take < value.length) carried = value.slice(take);
        yield take < value.length ? value.slice(0, take) : value;
      }
      read = true;
      firstRead.resolve();
    } catch (err) {
      firstRead.reject(err);
      throw err;
    } finally {
      // A reader that stopped early: `rest` cannot start where `first` left off.
      if (!read) firstRead.reject(new Error("the first batch was not read to its end"));
    }
  }
  async function* rest() {
    await firstDone;
    if (carried.length > 0) yield carried;
    for (let page = await iterator.next(); !page.done; page = await iterator.next()) yield page.value;
  }
  return { first: first(), rest: rest() };
}
