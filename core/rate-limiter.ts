/** A token bucket as stored on the connection record. */
export interface TokenBucket {
  /** Tokens left after the last message. */
  tokens: number;
  /** When `tokens` was computed, epoch milliseconds. */
  updatedAt: number;
  /**
   * Bumped by every write, which is conditional on it: two frames handled in the same millisecond would compute the
   * same `updatedAt`, so only a counter tells their writes apart. Absent on a bucket never stored.
   */
  version?: number;
}

export interface RateLimit {
  /** Bucket size: messages allowed in a burst. */
  burst: number;
  /** Refill rate: messages per second sustained. */
  perSecond: number;
}

/**
 * Takes one token for a message at `now`. Pure, so the store can apply the result with a conditional write and the
 * same rule holds however many Lambda instances serve one connection.
 */
export function takeToken(
  bucket: TokenBucket | undefined,
  now: number,
  limit: RateLimit,
): { allowed: boolean; bucket: TokenBucket; retryAfterMs: number } {
  const elapsedSeconds = bucket ? Math.max(0, now - bucket.updatedAt) / 1000 : Number.POSITIVE_INFINITY;
  const available = Math.min(limit.burst, (bucket?.tokens ?? limit.burst) + elapsedSeconds * limit.perSecond);
  if (available < 1) {
    return {
      allowed: false,
      bucket: { tokens: available, updatedAt: now },
      retryAfterMs: Math.ceil(((1 - available) / limit.perSecond) * 1000),
    };
  }
  return { allowed: true, bucket: { tokens: available - 1, updatedAt: now }, retryAfterMs: 0 };
}
