import { describe, expect, it } from "vitest";
import { Backoff, backoffCeiling, backoffDelay, DEFAULT_BACKOFF } from "../../web/src/backoff.js";

describe("backoff", () => {
  it("doubles the ceiling from the base up to the cap", () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7].map((n) => backoffCeiling(n))).toEqual([
      500, 1000, 2000, 4000, 8000, 16000, 30000, 30000,
    ]);
    expect(backoffCeiling(10_000)).toBe(DEFAULT_BACKOFF.capMs); // 2 ** 10000 is Infinity: still the cap
    expect(backoffCeiling(-1)).toBe(DEFAULT_BACKOFF.baseMs);
  });

  it("draws the delay uniformly from [0, ceiling) (full jitter)", () => {
    expect(backoffDelay(3, { random: () => 0 })).toBe(0);
    expect(backoffDelay(3, { random: () => 0.5 })).toBe(2000);
    expect(backoffDelay(3, { random: () => 0.999999 })).toBe(3999);
    expect(backoffDelay(20, { random: () => 0.999999 })).toBeLessThan(30_000);
  });

  it("stays within bounds and actually spreads with real randomness", () => {
    const delays = Array.from({ length: 2000 }, () => backoffDelay(4));
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...delays)).toBeLessThan(8000);
    // Clients dropped together must not come back together: the draws cover the range, not a point.
    expect(new Set(delays.map((d) => Math.floor(d / 1000))).size).toBe(8);
  });

  it("honours custom base and cap", () => {
    expect(backoffCeiling(0, 100, 1000)).toBe(100);
    expect(backoffCeiling(5, 100, 1000)).toBe(1000);
  });

  it("counts attempts and starts over on reset", () => {
    const backoff = new Backoff({ random: () => 0.5 });
    expect([backoff.next(), backoff.next(), backoff.next()]).toEqual([250, 500, 1000]);
    expect(backoff.attempts).toBe(3);
    backoff.reset();
    expect(backoff.attempts).toBe(0);
    expect(backoff.next()).toBe(250);
  });
});
