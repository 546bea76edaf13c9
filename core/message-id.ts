import { randomBytes } from "node:crypto";
import type { Clock } from "./clock.js";

const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"; // Crockford base32: sorts the same as text and as numbers

/**
 * Makes ULIDs: 26 characters, the first 10 the time in milliseconds, so ids sort by creation time as plain strings.
 * Ids made in the same millisecond by one generator still increase (the random part is incremented).
 */
export class MessageIdGenerator {
  private lastTime = -1;
  private lastRandom: number[] = [];

  constructor(private readonly clock: Clock) {}

  next(): string {
    const now = this.clock();
    if (now <= this.lastTime) {
      increment(this.lastRandom);
    } else {
      this.lastTime = now;
      this.lastRandom = [...randomBytes(16)].map((byte) => byte % 32);
    }
    return encodeTime(this.lastTime) + this.lastRandom.map((digit) => ALPHABET[digit]).join("");
  }
}

function encodeTime(ms: number): string {
  let out = "";
  for (let i = 0, rest = ms; i < 10; i++, rest = Math.floor(rest / 32)) out = ALPHABET[rest % 32] + out;
  return out;
}

function increment(digits: number[]): void {
  for (let i = digits.length - 1; i >= 0; i--) {
    if (digits[i] === 31) {
      digits[i] = 0;
    } else {
      digits[i] = (digits[i] ?? 0) + 1;
      return;
    }
  }
}
