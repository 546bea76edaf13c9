import { type ConnectionsApi, isGone, isThrottled, isTransient } from "./connections-api.js";
import type { Logger } from "./logger.js";

export interface RetryPolicy {
  /** Tries per recipient when throttled, the first included. @default 4 */
  attempts: number;
  /** First backoff; each retry doubles it, with full jitter. @default 50 */
  baseDelayMs: number;
  /** Longest single backoff. @default 1000 */
  maxDelayMs: number;
}

export interface BroadcastOptions {
  /** Sends in flight at once. @default 200 */
  concurrency?: number;
  retry?: Partial<RetryPolicy>;
  /** Waits between retries; injected so tests need not wait. @default setTimeout */
  sleep?: (ms: number) => Promise<void>;
  /** Source of jitter in [0, 1). @default Math.random */
  random?: () => number;
}

export interface Recipient {
  connectionId: string;
  /** When the connection's session ends, epoch seconds. */
  expiresAt?: number;
  /** Whose connection it is, when the source knows: clean-up of a room membership needs it. */
  userId?: string;
}

export interface BroadcastTarget {
  /** Recipients, a page at a time. The next page is read while the current one is being sent. */
  recipients: AsyncIterable<readonly Recipient[]>;
  /** The serialized frame. */
  data: string;
  /** Called for each recipient whose socket is gone (410), after which the broadcast goes on. */
  onGone: (recipient: Recipient) => Promise<void>;
  /**
   * Recipients whose session ended at or before this time (epoch seconds) get `onExpired` instead of the frame:
   * the broadcast doubles as the sweep that closes silent connections with stale tokens. @default no check
   */
  expiredAt?: number;
  onExpired?: (recipient: Recipient) => Promise<void>;
  /**
   * Called for each recipient whose send failed in a way that may pass (`isTransient`), throttles after their
   * retries here: the caller may send to it again later. Such sends are counted as failed here all the same.
   */
  onTransientFailure?: (recipient: Recipient) => void;
}

export interface BroadcastResult {
  delivered: number;
  /** Skipped and closed: their session had expired. */
  expired: number;
  /** Gone (410) and cleaned up. */
  gone: number;
  /** Failed for any other reason, or still throttled after every retry. */
  failed: number;
  /** Throttled sends that were tried again. */
  retries: number;
}

export const DEFAULT_BROADCAST_CONCURRENCY = 200;

/**
 * Sends one frame to many connections: bounded concurrency, one page of recipients in memory (plus the next one
 * prefetched), throttles retried with backoff, gone connections cleaned up, and no single failure stopping the rest.
 */
export class Broadcaster {
  private readonly concurrency: number;
  private readonly retry: RetryPolicy;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;

  constructor(
    private readonly api: ConnectionsApi,
    private readonly logger: Logger,
    options: BroadcastOptions = {},
  ) {
    this.concurrency = options.concurrency ?? DEFAULT_BROADCAST_CONCURRENCY;
    this.retry = { attempts: 4, baseDelayMs: 50, maxDelayMs: 1000, ...options.retry };
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.random = options.random ?? Math.random;
  }

  async send(target: BroadcastTarget): Promise<BroadcastResult> {
    const result: BroadcastResult = { delivered: 0, expired: 0, gone: 0, failed: 0, retries: 0 };
    const next = pull(target.recipients);
    const worker = async () => {
      for (let recipient = await next(); recipient !== undefined; recipient = await next()) {
        if (isExpired(recipient, target.expiredAt)) {
          result.expired++;
          await target.onExpired?.(recipient).catch((err: unknown) => {
            this.logger.warn("could not close an expired connection", {
              connectionId: recipient.connectionId,
              error: err,
            });
          });
        } else {
          await this.deliver(recipient, target, result);
        }
      }
    };
    // Every worker finishes its send before a failed read fails the broadcast: none is left running after it.
    await settleAll(Array.from({ length: this.concurrency }, worker));
    return result;
  }

  private async deliver(recipient: Recipient, target: BroadcastTarget, result: BroadcastResult): Promise<void> {
    const { connectionId } = recipient;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.api.post(connectionId, target.data);
        result.delivered++;
        return;
      } catch (err) {
        if (isGone(err)) {
          result.gone++;
          await target.onGone(recipient).catch((cleanupErr: unknown) => {
            this.logger.warn("could not remove a gone connection", { connectionId, error: cleanupErr });
          });
          return;
        }
        if (isThrottled(err) && attempt < this.retry.attempts) {
          result.retries++;
          const ceiling = Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** (attempt - 1));
          await this.sleep(this.random() * ceiling);
          continue;
        }
        result.failed++;
        this.logger.warn("send failed", { connectionId, attempt, error: err });
        if (isTransient(err)) target.onTransientFailure?.(recipient);
        return;
      }
    }
  }
}

/** Waits for every promise to settle, then rejects with the first rejection if there was one. */
export async function settleAll(promises: readonly Promise<unknown>[]): Promise<void> {
  for (const outcome of await Promise.allSettled(promises)) {
    if (outcome.status === "rejected") throw outcome.reason;
  }
}

/** Recipients already in memory, as the page source a broadcast takes. */
export async function* onePage<T>(page: readonly T[]): AsyncGenerator<readonly T[]> {
  yield page;
}

const isExpired = (recipient: Recipient, expiredAt: number | undefined) =>
  expiredAt !== undefined && recipient.expiresAt !== undefined && recipient.expiresAt <= expiredAt;

/**
 * Turns pages into a single `next()` that many workers can call at once. Reads one page ahead so that workers
 * rarely wait for the store, and never more, so memory stays at two pages whatever the table holds.
 */
function pull<T>(pages: AsyncIterable<readonly T[]>): () => Promise<T | undefined> {
  const iterator = pages[Symbol.asyncIterator]();
  // A prefetch may fail while workers are busy; mark it handled now, the rejection still reaches `load`.
  const readAhead = () => {
    const next = iterator.next();
    next.catch(() => {});
    return next;
  };
  let ahead = readAhead();
  let page: readonly T[] = [];
  let index = 0;
  let finished = false;
  // Workers that find the page empty all wait on the same load instead of each reading a page.
  let loading: Promise<void> | undefined;
  const load = async () => {
    const { value, done } = await ahead;
    if (done) {
      finished = true;
      return;
    }
    page = value;
    index = 0;
    ahead = readAhead();
  };
  return async () => {
    while (index >= page.length) {
      if (finished) return undefined;
      loading ??= load().finally(() => {
        loading = undefined;
      });
      await loading;
    }
    return page[index++];
  };
}
