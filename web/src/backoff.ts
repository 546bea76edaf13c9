/**
 * Reconnect delays: exponential backoff with "full jitter" (a uniformly random delay between 0 and the exponential
 * ceiling). Full jitter spreads the clients that a server restart dropped all at once, so they do not come back in
 * lockstep and knock it over again.
 */
export interface BackoffOptions {
  /** Ceiling of the first retry, in ms. @default 500 */
  baseMs?: number;
  /** Largest ceiling, in ms. @default 30000 */
  capMs?: number;
  /** Source of randomness in [0, 1); injected so tests are deterministic. @default Math.random */
  random?: () => number;
}

export const DEFAULT_BACKOFF = { baseMs: 500, capMs: 30_000 } as const;

/** The ceiling for retry number `attempt` (0-based): `min(cap, base * 2^attempt)`. */
export function backoffCeiling(
  attempt: number,
  baseMs: number = DEFAULT_BACKOFF.baseMs,
  capMs: number = DEFAULT_BACKOFF.capMs,
): number {
  // 2 ** attempt overflows to Infinity for large attempts, which Math.min turns back into the cap.
  return Math.min(capMs, baseMs * 2 ** Math.max(0, attempt));
}

/** The delay before retry number `attempt` (0-based): uniform in [0, ceiling). */
export function backoffDelay(attempt: number, options: BackoffOptions = {}): number {
  const random = options.random ?? Math.random;
  return Math.floor(random() * backoffCeiling(attempt, options.baseMs, options.capMs));
}

/** Counts consecutive failures; `reset()` after a connection proves healthy. */
export class Backoff {
  private attempt = 0;

  constructor(private readonly options: BackoffOptions = {}) {}

  /** The delay before the next retry; each call moves one step up the exponential. */
  next(): number {
    return backoffDelay(this.attempt++, this.options);
  }

  reset(): void {
    this.attempt = 0;
  }

  /** How many retries since the last reset. */
  get attempts(): number {
    return this.attempt;
  }
}
