import { type Broadcaster, type BroadcastResult, onePage, type Recipient, settleAll } from "./broadcast.js";
import { type FanoutBatch, type FanoutQueue, inBatches, resendLater, splitFirst } from "./fanout-queue.js";
import type { Logger } from "./logger.js";

export interface FanoutOptions {
  /** Recipients per batch: the first is sent inline, the rest go to the workers. @default 1000 */
  batchSize?: number;
  /** Batches handed to the queue at once. @default 10 */
  enqueueConcurrency?: number;
}

export interface FanoutTarget {
  recipients: AsyncIterable<readonly Recipient[]>;
  data: string;
  expiredAt: number;
  onGone: (recipient: Recipient) => Promise<void>;
  onExpired: (recipient: Recipient) => Promise<void>;
  /** The room being sent to, passed on to the workers for their clean-up. */
  room?: string;
  /** Passed on to the workers: what `onGone` does here, minus announcements. See `FanoutBatch`. */
  silentCleanup?: boolean;
}

export interface FanoutResult extends BroadcastResult {
  /** Recipients handed to fan-out workers (their outcome is the workers' to report). */
  queued: number;
  batchesQueued: number;
  /** Of the failed sends, those queued to be made again later (see `resendLater`). */
  resent: number;
}

export const DEFAULT_FANOUT_BATCH_SIZE = 1000;

/**
 * A broadcast that grows past one invocation: the first batch of recipients is sent right here, page by page as the
 * store reads it (most rooms fit in it, so they never pay for a queue), every further batch goes to the fan-out
 * queue, where parallel workers send it. Without a queue everything is sent inline.
 */
export class Fanout {
  private readonly batchSize: number;
  private readonly enqueueConcurrency: number;

  constructor(
    private readonly broadcaster: Broadcaster,
    private readonly queue: FanoutQueue | undefined,
    private readonly logger: Logger,
    options: FanoutOptions = {},
  ) {
    this.batchSize = options.batchSize ?? DEFAULT_FANOUT_BATCH_SIZE;
    this.enqueueConcurrency = options.enqueueConcurrency ?? 10;
  }

  async send(target: FanoutTarget): Promise<FanoutResult> {
    const result: FanoutResult = {
      delivered: 0,
      expired: 0,
      gone: 0,
      failed: 0,
      retries: 0,
      queued: 0,
      batchesQueued: 0,
      resent: 0,
    };
    const failed: Recipient[] = [];
    const sendHere = async (recipients: AsyncIterable<readonly Recipient[]>) =>
      add(result, await this.broadcaster.send({ ...target, recipients, onTransientFailure: (r) => failed.push(r) }));
    if (!this.queue) {
      await sendHere(target.recipients);
      return result;
    }
    const queue = this.queue;
    const batchOf = (recipients: Recipient[]): FanoutBatch => ({
      data: target.data,
      recipients,
      expiredAt: target.expiredAt,
      ...(target.room ? { room: target.room } : {}),
      ...(target.silentCleanup ? { silentCleanup: true as const } : {}),
    });
    // The first batch is sent page by page as it is read; the batches after it go to the queue meanwhile.
    const { first, rest } = splitFirst(target.recipients, this.batchSize);
    const enqueueRest = async () => {
      const work: Promise<void>[] = [];
      const inFlight = new Set<Promise<void>>();
      try {
        for await (const recipients of inBatches(rest, this.batchSize)) {
          const enqueued = queue
            .enqueue(batchOf(recipients))
            .then(
              () => {
                result.queued += recipients.length;
                result.batchesQueued++;
              },
              // A batch the queue would not take is sent here: slower, but nobody misses the message.
              (err: unknown) => {
                this.logger.warn("fan-out queue refused a batch; sending it inline", { error: err });
                return sendHere(onePage(recipients));
              },
            )
            .finally(() => inFlight.delete(enqueued));
          inFlight.add(enqueued);
          work.push(enqueued);
          if (inFlight.size >= this.enqueueConcurrency) await Promise.race(inFlight);
        }
      } finally {
        await settleAll(work); // a failed read still waits for the batches already handed on
      }
    };
    await settleAll([sendHere(first), enqueueRest()]);
    // Recipients are held here only when a send failed, at most a batch of them.
    result.resent = await resendLater(queue, batchOf(failed), failed, this.logger);
    return result;
  }
}

function add(total: BroadcastResult, part: BroadcastResult): void {
  total.delivered += part.delivered;
  total.expired += part.expired;
  total.gone += part.gone;
  total.failed += part.failed;
  total.retries += part.retries;
}
