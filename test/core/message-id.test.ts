import { describe, expect, it } from "vitest";
import { MessageIdGenerator } from "../../core/message-id.js";

describe("MessageIdGenerator", () => {
  it("makes 26-character ids that sort as text in the order they were made, even within one millisecond", () => {
    let now = 1_795_932_000_000;
    const ids = new MessageIdGenerator(() => now);
    const made: string[] = [];
    for (let i = 0; i < 1000; i++) {
      if (i % 100 === 0) now += 1;
      made.push(ids.next());
    }
    expect(made.every((id) => /^[0-9A-HJKMNP-TV-Z]{26}$/.test(id))).toBe(true);
    expect([...made].sort()).toEqual(made);
    expect(new Set(made).size).toBe(made.length);
  });

  it("keeps ids increasing when the clock steps back", () => {
    let now = 1_795_932_000_000;
    const ids = new MessageIdGenerator(() => now);
    const first = ids.next();
    now -= 5000;
    expect(ids.next() > first).toBe(true);
  });
});
