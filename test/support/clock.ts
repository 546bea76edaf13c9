import type { Clock } from "../../core/clock.js";

/** Real time plus an offset that only grows: `startSandbox({ clock })` and the handlers read it. */
export interface TestClock {
  readonly clock: Clock;
  /** Moves time forward by `ms` for everything that reads `clock`; socket timers keep real time. */
  advance(ms: number): void;
}

/**
 * A clock that runs with real time (so tokens and the JWT verifier, which reads `Date.now`, still agree) and can
 * jump forward: a test passes a grace period or an expiry without waiting for it.
 */
export function testClock(): TestClock {
  let offset = 0;
  return {
    clock: () => Date.now() + offset,
    advance(ms) {
      if (!(ms >= 0)) throw new RangeError(`a test clock only moves forward, not by ${ms} ms`);
      offset += ms;
    },
  };
}

/** `ChatService`'s grace for a 410 from a young connection (API Gateway's integration timeout), plus a margin. */
export const PAST_CONNECT_GRACE_MS = 30_000;
