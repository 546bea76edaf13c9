import { describe, expect, it } from "vitest";
import { takeToken } from "../../core/rate-limiter.js";

const limit = { burst: 3, perSecond: 2 };

describe("takeToken", () => {
  it("allows a full burst from a fresh bucket, then refuses with the wait until the next token", () => {
    let bucket: ReturnType<typeof takeToken>["bucket"] | undefined;
    const allowed: boolean[] = [];
    let last = takeToken(undefined, 0, limit);
    for (let i = 0; i < 4; i++) {
      last = takeToken(bucket, 1000, limit);
      allowed.push(last.allowed);
      if (last.allowed) bucket = last.bucket;
    }
    expect(allowed).toEqual([true, true, true, false]);
    expect(last.retryAfterMs).toBe(500);
  });

  it("refills at the sustained rate and never above the burst", () => {
    const empty = { tokens: 0, updatedAt: 0 };
    expect(takeToken(empty, 499, limit).allowed).toBe(false);
    expect(takeToken(empty, 500, limit).allowed).toBe(true);
    expect(takeToken(empty, 60_000, limit).bucket.tokens).toBe(limit.burst - 1);
  });
});
