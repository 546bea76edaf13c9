import { Limits } from "../../../core/protocol.js";
import type { ClientFrame } from "../frames.js";

/**
 * What the page asks the server in the background, as opposed to messages people send:
 * - `join`: join (or rejoin after a reconnect) and catch up; answered by `history` then `presence`;
 * - `newer`: the next page of a catch-up the server said has more; answered by `history`;
 * - `fill`: fetch what a gap is missing, if it still is; answered by `history`;
 * - `older`: a page further back, for scrolling; answered by `history`;
 * - `leave`: no answer.
 */
export type RequestKind = "join" | "newer" | "fill" | "older" | "leave";

export interface BackgroundRequest {
  room: string;
  kind: RequestKind;
}

export interface RequestQueueOptions {
  /** Builds the frame when its turn comes, from the state at that moment; undefined when there is nothing to ask. */
  build(request: BackgroundRequest): ClientFrame | undefined;
  /** Hands a frame to the socket; false when the connection is not live. */
  send(frame: ClientFrame): boolean;
  /** The request in flight got no answer in time and was given up on. */
  onTimeout?(request: BackgroundRequest): void;
  /** The server's token bucket: background requests and messages share it. @default Limits' defaults */
  burst?: number;
  perSecond?: number;
  /** Tokens background requests leave for messages people type. @default 2 */
  reserve?: number;
  /** A request without an answer by then is given up on, so one lost answer does not stall the rest. @default 10000 */
  timeoutMs?: number;
  now?: () => number;
}

/**
 * Background requests, one at a time and paced by a copy of the server's token bucket.
 *
 * One at a time, because answers carry no request id: with a single request out, a `history` frame for its room is
 * its answer, and the page knows whether it holds the newest messages, a page further back, or the rest of a
 * catch-up. It also keeps a reconnect into twenty rooms from tripping the server's rate limit (bursts of 10, then 2 a
 * second), which would refuse joins and, worse, the message the person sends right then: the queue leaves them
 * `reserve` tokens.
 */
export class RequestQueue {
  private readonly waiting: BackgroundRequest[] = [];
  private current: BackgroundRequest | undefined;
  private tokens: number;
  private updatedAt: number;
  /** Waiting for the bucket to refill. */
  private refillTimer: ReturnType<typeof setTimeout> | undefined;
  /** Giving up on the request in flight. */
  private answerTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly burst: number;
  private readonly perSecond: number;
  private readonly reserve: number;
  private readonly timeoutMs: number;
  private readonly now: () => number;

  constructor(private readonly options: RequestQueueOptions) {
    this.burst = options.burst ?? Limits.defaultMessageBurst;
    this.perSecond = options.perSecond ?? Limits.defaultMessagesPerSecond;
    this.reserve = Math.min(options.reserve ?? 2, this.burst - 1);
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.now = options.now ?? Date.now;
    this.tokens = this.burst;
    this.updatedAt = this.now();
  }

  /** The request waiting for its answer. */
  get inFlight(): BackgroundRequest | undefined {
    return this.current;
  }

  /** Queued or in flight. */
  has(room: string, kind: RequestKind): boolean {
    const same = (request: BackgroundRequest | undefined) => request?.room === room && request.kind === kind;
    return same(this.current) || this.waiting.some(same);
  }

  /** Adds a request unless the same one is already waiting; `urgent` ones (someone is looking) go first. */
  enqueue(request: BackgroundRequest, options: { urgent?: boolean } = {}): void {
    if (!this.waiting.some((queued) => queued.room === request.room && queued.kind === request.kind)) {
      if (options.urgent) this.waiting.unshift(request);
      else this.waiting.push(request);
    }
    this.pump();
  }

  /** Forgets the waiting requests for a room (it was left). */
  drop(room: string): void {
    for (let i = this.waiting.length - 1; i >= 0; i--) if (this.waiting[i]?.room === room) this.waiting.splice(i, 1);
  }

  /** An answer for `room` arrived: `presence` ends a join, `history` the others, an error any of them. */
  settle(room: string, by: "history" | "presence" | "error"): void {
    const current = this.current;
    if (!current || current.room !== room) return;
    if (by === "history" && current.kind === "join") return; // presence follows the join's history
    this.finish();
  }

  /** The server refused the request in flight as over the rate limit: send it again once the bucket has refilled. */
  throttled(): void {
    this.tokens = 0;
    this.updatedAt = this.now();
    const current = this.current;
    if (current) {
      this.finish(false);
      this.waiting.unshift(current);
    }
    this.pump();
  }

  /** A message someone sent took a token from the server's bucket. */
  spend(): void {
    this.refill();
    this.tokens = Math.max(0, this.tokens - 1);
  }

  /** The connection went away: nothing waiting or in flight means anything on the next one. */
  reset(): void {
    this.waiting.length = 0;
    this.current = undefined;
    clearTimeout(this.refillTimer);
    clearTimeout(this.answerTimer);
    this.refillTimer = this.answerTimer = undefined;
    // A new connection starts with a full bucket on the server.
    this.tokens = this.burst;
    this.updatedAt = this.now();
  }

  private finish(pump = true): void {
    this.current = undefined;
    clearTimeout(this.answerTimer);
    this.answerTimer = undefined;
    if (pump) this.pump();
  }

  private pump(): void {
    while (!this.current && !this.refillTimer && this.waiting.length > 0) {
      this.refill();
      const needed = 1 + this.reserve;
      if (this.tokens < needed) {
        const waitMs = Math.ceil(((needed - this.tokens) / this.perSecond) * 1000);
        this.refillTimer = setTimeout(() => {
          this.refillTimer = undefined;
          this.pump();
        }, waitMs);
        return;
      }
      const request = this.waiting.shift() as BackgroundRequest;
      const frame = this.options.build(request);
      if (!frame) continue;
      if (!this.options.send(frame)) {
        this.reset(); // not live: the next connection starts over with its own joins
        return;
      }
      this.tokens -= 1;
      if (request.kind === "leave") continue; // no answer to wait for
      this.current = request;
      this.answerTimer = setTimeout(() => {
        this.answerTimer = undefined;
        if (this.current !== request) return;
        this.finish(false);
        this.options.onTimeout?.(request);
        this.pump();
      }, this.timeoutMs);
    }
  }

  private refill(): void {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.updatedAt) / 1000) * this.perSecond);
    this.updatedAt = now;
  }
}
