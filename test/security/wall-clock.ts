import { vi } from "vitest";

/**
 * Moves the process's wall clock (`Date.now()`) forward, and only that: timers, sockets and I/O keep real time, and
 * the clock keeps ticking at its real pace, to the millisecond, between jumps. The sandbox runs in this process, so
 * the gateway, the handlers (their `systemClock`), aws-jwt-verify's `exp`/`nbf` checks and the development issuer
 * all see the same jump, as every part of a deployment shares one real clock. Tokens count whole seconds: jump past
 * an expiry by at least one.
 */
export interface WallClock {
  /** Jumps `ms` forward. */
  advance(ms: number): void;
  /** Back to the real clock. */
  restore(): void;
}

export function fakeWallClock(): WallClock {
  const realNow = Date.now.bind(Date);
  let offsetMs = 0;
  const spy = vi.spyOn(Date, "now").mockImplementation(() => realNow() + offsetMs);
  return {
    advance: (ms) => {
      offsetMs += ms;
    },
    restore: () => spy.mockRestore(),
  };
}
