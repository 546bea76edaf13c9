/**
 * When the connection's session ends, on this page's clock. A token's `exp` is the server's time: against a client
 * clock that is off by more than a token's life, every token looks expired on arrival and renewal would spin. So a
 * token's life is measured from when the page received it: its lifetime (`exp - iat`) less the part already used,
 * which the local clock is trusted for only when it places the token within its own life.
 */
import { tokenExpiry, tokenIssuedAt } from "./jwt.js";

export interface SessionClock {
  /** Local epoch ms at which the session ends. */
  endsAt: number;
  /** Local minus server time (ms) as the token shows it: turns the server's `expiresAt` into local time. */
  offsetMs: number;
  /** `exp - iat` in ms; undefined when the token has no `iat`. */
  lifetimeMs: number | undefined;
}

/** Renewal never comes sooner than this after the last (nor later than half the token's life). */
export const MIN_RENEWAL_DELAY_MS = 30_000;
/** setTimeout treats delays past 2^31-1 ms (~24.8 days) as 0. */
const MAX_DELAY_MS = 2 ** 31 - 1;

/**
 * The clock for a token received at `receivedAt` (local ms). `issuedJustNow`: it came from a forced refresh, so none
 * of its life is used yet. Undefined when the token has no readable `exp`.
 */
export function clockForToken(token: string, receivedAt: number, issuedJustNow: boolean): SessionClock | undefined {
  const exp = tokenExpiry(token);
  if (exp === undefined) return undefined;
  const iat = tokenIssuedAt(token);
  if (iat === undefined || iat >= exp) return { endsAt: exp * 1000, offsetMs: 0, lifetimeMs: undefined };
  const lifetimeMs = (exp - iat) * 1000;
  const usedByLocalClock = receivedAt - iat * 1000;
  // A clock that puts the token before its issue or past its end is the one that is wrong: count the token as new.
  const plausible = usedByLocalClock >= 0 && usedByLocalClock <= lifetimeMs;
  const used = !issuedJustNow && plausible ? usedByLocalClock : 0;
  const endsAt = receivedAt + lifetimeMs - used;
  return { endsAt, offsetMs: endsAt - exp * 1000, lifetimeMs };
}

/** The session now ends at the server's `expiresAt` (epoch seconds, from a `refreshed` frame). */
export function extendClock(clock: SessionClock, expiresAt: number): SessionClock {
  return { ...clock, endsAt: expiresAt * 1000 + clock.offsetMs };
}

/**
 * How long to wait before renewing: `marginSeconds` before the end, or half the remaining life when that is shorter
 * (short tokens do not renew in a tight loop), and never sooner than the floor, so a session that looks over already
 * is not renewed every second.
 */
export function renewalDelay(clock: SessionClock, now: number, marginSeconds: number): number {
  const remaining = clock.endsAt - now;
  const floor = Math.min(MIN_RENEWAL_DELAY_MS, (clock.lifetimeMs ?? Number.POSITIVE_INFINITY) / 2);
  return Math.min(MAX_DELAY_MS, Math.max(remaining - marginSeconds * 1000, remaining / 2, floor));
}
