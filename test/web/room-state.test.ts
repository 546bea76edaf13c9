import { describe, expect, it } from "vitest";
import { type MessageFrame, messageId } from "../../core/protocol.js";
import {
  applyHistory,
  applyJoined,
  applyLeft,
  applyPresence,
  emptyRoom,
  hasGap,
  markRead,
  mergeMessages,
  nextId,
  onlineList,
  parseRoomName,
  type RoomState,
  sortRoomNames,
  trimOldest,
} from "../../web/src/rooms/room-state.js";

const ME = "u-me";
const msg = (n: number, sender = "u-ann", room = "design"): MessageFrame => ({
  type: "message",
  room,
  id: messageId(n),
  sender: { userId: sender, name: sender.slice(2) },
  text: `message ${n}`,
  sentAt: "2026-11-29T06:30:00.000Z",
});
const ids = (room: RoomState) => room.messages.map((message) => Number(message.id));
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

const opts = { ownUserId: ME, selected: false };
const live = (room: RoomState, ...ns: number[]) =>
  ns.reduce((state, n) => mergeMessages(state, [msg(n)], { ...opts, arrival: "live" }).room, room);
/** A room that loaded messages `from..to` as its first history. */
const loaded = (from: number, to: number, hasMore = from > 1) =>
  applyHistory(
    emptyRoom("design"),
    { messages: range(from, to).map((n) => msg(n)), hasMore },
    { kind: "initial" },
    opts,
  ).room;

describe("merging messages", () => {
  it("keeps them sorted by id and each id once, whatever order and however often they arrive", () => {
    let room = emptyRoom("design");
    room = mergeMessages(room, [msg(3), msg(1)], { ...opts, arrival: "initial" }).room;
    room = mergeMessages(room, [msg(2), msg(3), msg(5)], { ...opts, arrival: "live" }).room;
    room = mergeMessages(room, [msg(4), msg(4), msg(1)], { ...opts, arrival: "newer" }).room;
    expect(ids(room)).toEqual([1, 2, 3, 4, 5]);
  });

  it("reports exactly what was new, in order", () => {
    const room = loaded(1, 3);
    const { added } = mergeMessages(room, [msg(5), msg(2), msg(4)], { ...opts, arrival: "newer" });
    expect(added.map((message) => Number(message.id))).toEqual([4, 5]);
    const again = mergeMessages(room, [msg(3)], { ...opts, arrival: "live" });
    expect(again.added).toEqual([]);
    expect(again.room).toBe(room); // nothing new, nothing changed
  });

  it("ignores messages of another room", () => {
    const { room } = mergeMessages(emptyRoom("design"), [msg(1, "u-ann", "lobby")], { ...opts, arrival: "live" });
    expect(room.messages).toEqual([]);
  });

  it("merges a page of older messages in front", () => {
    const room = loaded(51, 100);
    const older = applyHistory(
      room,
      { messages: range(1, 50).map((n) => msg(n)), hasMore: false },
      { kind: "older" },
      opts,
    );
    expect(ids(older.room)).toEqual(range(1, 100));
    expect(older.room.hasMoreOlder).toBe(false);
  });
});

describe("unread counts", () => {
  it("counts new messages from others in a room that is not selected", () => {
    let room = loaded(1, 3);
    room = mergeMessages(room, [msg(4), msg(5, ME)], { ...opts, arrival: "live" }).room;
    expect(room.unread).toBe(1); // not my own
    room = mergeMessages(room, [msg(4), msg(6)], { ...opts, arrival: "newer" }).room;
    expect(room.unread).toBe(2); // 4 again does not count twice; what a catch-up brings does
    expect(markRead(room).unread).toBe(0);
  });

  it("does not count the room on screen, the first history, or older pages", () => {
    let room = emptyRoom("design");
    room = applyHistory(room, { messages: [msg(1), msg(2)], hasMore: true }, { kind: "initial" }, opts).room;
    room = applyHistory(room, { messages: [msg(0 + 1)], hasMore: false }, { kind: "older" }, opts).room;
    room = mergeMessages(room, [msg(3)], { ...opts, selected: true, arrival: "live" }).room;
    expect(room.unread).toBe(0);
  });
});

describe("the frontier and gaps", () => {
  it("follows contiguous messages, live or late", () => {
    let room = loaded(1, 10);
    expect(room.frontier).toBe(messageId(10));
    room = live(room, 11, 12);
    expect(room.frontier).toBe(messageId(12));
    expect(hasGap(room)).toBe(false);
  });

  it("sees a gap when a message arrives past the next id, and closes it when the missing one arrives", () => {
    let room = live(loaded(1, 10), 12);
    expect(room.frontier).toBe(messageId(10));
    expect(hasGap(room)).toBe(true);
    room = live(room, 11);
    expect(room.frontier).toBe(messageId(12));
    expect(hasGap(room)).toBe(false);
  });

  it("treats ids a history answer skipped as not existing (a message whose save failed)", () => {
    let room = live(loaded(1, 10), 13);
    // The answer to `after 10`: 11 and 13; 12 was never stored.
    const result = applyHistory(
      room,
      { messages: [msg(11), msg(13)], hasMore: false },
      { kind: "newer", after: messageId(10) },
      opts,
    );
    room = result.room;
    expect(ids(room)).toEqual([...range(1, 11), 13]);
    expect(room.frontier).toBe(messageId(13));
    expect(hasGap(room)).toBe(false);
    expect(result.continueAfter).toBe(false);
  });

  it("asks to continue while a catch-up has more", () => {
    const room = loaded(1, 10);
    const page = range(11, 110).map((n) => msg(n));
    const first = applyHistory(room, { messages: page, hasMore: true }, { kind: "newer", after: messageId(10) }, opts);
    expect(first.continueAfter).toBe(true);
    expect(first.room.frontier).toBe(messageId(110));
    const second = applyHistory(
      first.room,
      { messages: [msg(111)], hasMore: false },
      { kind: "newer", after: messageId(110) },
      opts,
    );
    expect(second.continueAfter).toBe(false);
    expect(ids(second.room)).toEqual(range(1, 111));
  });

  it("does not let live messages past a catch-up move the frontier over what is still missing", () => {
    // Reconnected at 10; 11..250 were missed; 251 arrives live before the catch-up answer.
    let room = live(loaded(1, 10), 251);
    expect(room.frontier).toBe(messageId(10));
    room = applyHistory(
      room,
      { messages: range(11, 110).map((n) => msg(n)), hasMore: true },
      { kind: "newer", after: messageId(10) },
      opts,
    ).room;
    expect(room.frontier).toBe(messageId(110)); // not 251: 111..250 are still to come
    expect(hasGap(room)).toBe(true);
  });

  it("stops at an empty catch-up page instead of asking the same question again", () => {
    const room = live(loaded(1, 10), 14);
    const result = applyHistory(room, { messages: [], hasMore: true }, { kind: "newer", after: messageId(10) }, opts);
    expect(result.continueAfter).toBe(false);
    expect(result.room.frontier).toBe(messageId(14));
  });

  it("starts the frontier of a room that loaded empty at the zero id, so a message missed before the first live one is a gap", () => {
    const empty = applyHistory(emptyRoom("design"), { messages: [], hasMore: false }, { kind: "initial" }, opts).room;
    expect(empty.loaded).toBe(true);
    expect(empty.frontier).toBeUndefined();
    const fromStart = live(empty, 1, 2);
    expect(fromStart.frontier).toBe(messageId(2));
    expect(hasGap(fromStart)).toBe(false);
    // Message 1's post to this page failed; 2 arrives live.
    const missed = live(empty, 2);
    expect(missed.frontier).toBe(messageId(0));
    expect(hasGap(missed)).toBe(true);
  });

  it("closes the gap below the first live message of a room whose history expired with one answer", () => {
    const empty = applyHistory(emptyRoom("design"), { messages: [], hasMore: false }, { kind: "initial" }, opts).room;
    const room = live(empty, 37);
    expect(hasGap(room)).toBe(true);
    const after = { kind: "newer", after: messageId(0) } as const;
    // The fill's answer holds only 37 (1..36 have expired), or nothing at all (a page of expired items not yet
    // deleted, which may even say hasMore): either way 1..36 are accounted for, and nothing is asked again.
    for (const frame of [
      { messages: [msg(37)], hasMore: false },
      { messages: [], hasMore: true },
    ]) {
      const result = applyHistory(room, frame, after, opts);
      expect(result.room.frontier).toBe(messageId(37));
      expect(hasGap(result.room)).toBe(false);
      expect(result.continueAfter).toBe(false);
    }
  });

  it("has no frontier (and so no gap) before the first history arrives", () => {
    const room = live(emptyRoom("design"), 5, 9);
    expect(room.frontier).toBeUndefined();
    expect(hasGap(room)).toBe(false);
    // The join's answer arrives after the live messages it overlaps.
    const answered = applyHistory(
      room,
      { messages: range(1, 5).map((n) => msg(n)), hasMore: false },
      { kind: "initial" },
      opts,
    ).room;
    expect(answered.frontier).toBe(messageId(5));
    expect(hasGap(answered)).toBe(true); // 6..8 missing before 9
  });

  it("takes a stray history frame for its own contiguous stretch only", () => {
    const room = live(loaded(1, 10), 30);
    const touching = applyHistory(
      room,
      { messages: [msg(11), msg(13)], hasMore: false },
      { kind: "unattributed" },
      opts,
    );
    expect(touching.room.frontier).toBe(messageId(13));
    const island = applyHistory(room, { messages: [msg(20), msg(22)], hasMore: false }, { kind: "unattributed" }, opts);
    expect(island.room.frontier).toBe(messageId(10)); // says nothing about 11..19
  });

  it("computes the next id with the padding", () => {
    expect(nextId("000000000009")).toBe("000000000010");
  });
});

describe("trimming", () => {
  it("drops the oldest past the limit and remembers there are older ones", () => {
    const room = loaded(1, 10, false);
    const { room: trimmed, removed } = trimOldest(room, 4);
    expect(ids(trimmed)).toEqual([7, 8, 9, 10]);
    expect(removed.map((message) => Number(message.id))).toEqual(range(1, 6));
    expect(trimmed.hasMoreOlder).toBe(true);
    expect(trimmed.frontier).toBe(messageId(10));
  });
});

describe("presence", () => {
  const ann = { userId: "u-ann", name: "Ann" };
  const bob = { userId: "u-bob", name: "Bob" };
  const me = { userId: ME, name: "Zed" };

  const shown = (room: RoomState) => [...room.online.keys()].sort();

  it("replaces the set on presence and updates it on joined/left, idempotently", () => {
    let room = applyPresence(emptyRoom("design"), [ann, me], 3);
    expect([...room.online.keys()]).toEqual(["u-ann", ME]);
    room = applyJoined(room, bob, 4);
    expect(applyJoined(room, bob, 4)).toBe(room); // the same news again changes nothing
    expect(room.online.size).toBe(3);
    room = applyLeft(room, ann, 5);
    expect(applyLeft(room, ann, 5)).toBe(room);
    expect(shown(room)).toEqual(["u-bob", ME]);
    room = applyPresence(room, [ann], 6);
    expect([...room.online.keys()]).toEqual(["u-ann"]);
  });

  it("ignores news about a user older than what it has: news from two server instances can cross", () => {
    let room = applyPresence(emptyRoom("design"), [me], 3);
    room = applyLeft(room, bob, 9); // bob's old tab closed…
    room = applyJoined(room, bob, 8); // …after his new tab's arrival, whose news came second
    expect(shown(room)).toEqual([ME]);
    room = applyJoined(room, ann, 10);
    expect(applyLeft(room, ann, 7)).toBe(room);
    expect(applyJoined(room, bob, 2)).toBe(room); // older than the list
    expect(shown(room)).toEqual(["u-ann", ME]);
  });

  it("keeps news that came before the list but is newer than it, and ignores an older list", () => {
    let room = applyJoined(emptyRoom("design"), bob, 12); // the join's answer is still on its way
    room = applyLeft(room, ann, 13);
    room = applyPresence(room, [ann, me], 11);
    expect(shown(room)).toEqual(["u-bob", ME]);
    room = applyLeft(room, bob, 12);
    expect(shown(room)).toEqual(["u-bob", ME]); // the same version again: stale
    const newer = applyPresence(room, [me], 14);
    expect(shown(newer)).toEqual([ME]);
    expect(applyPresence(newer, [ann, bob, me], 12)).toBe(newer);
  });

  it("applies unversioned news (from a server that predates versions) as it comes", () => {
    let room = applyPresence(emptyRoom("design"), [ann]);
    room = applyJoined(room, bob);
    room = applyLeft(room, ann);
    expect(shown(room)).toEqual(["u-bob"]);
    room = applyJoined(room, ann);
    expect(applyJoined(room, ann)).toBe(room);
    expect(shown(room)).toEqual(["u-ann", "u-bob"]);
  });

  it("lists the person first, then the others by name", () => {
    const room = applyPresence(emptyRoom("design"), [bob, me, ann, { userId: "u-anon" }]);
    expect(onlineList(room, ME).map((user) => user.userId)).toEqual([ME, "u-ann", "u-bob", "u-anon"]);
  });
});

describe("room names", () => {
  it("sorts the lobby first, then alphabetically", () => {
    expect(sortRoomNames(["zeta", "lobby", "alpha", "0-day"])).toEqual(["lobby", "0-day", "alpha", "zeta"]);
  });

  it.each([
    ["design", "design"],
    ["  #Design ", "design"],
    ["ops_2-b", "ops_2-b"],
  ])("accepts %j as %j", (input, name) => {
    expect(parseRoomName(input)).toEqual({ ok: true, name });
  });

  it.each([
    ["", /Type a room name/],
    ["-design", /start with a letter or a digit/],
    ["two words", /a–z, 0–9/],
    ["a".repeat(33), /at most 32/],
    ["café", /a–z, 0–9/],
  ])("refuses %j", (input, problem) => {
    const result = parseRoomName(input);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.problem).toMatch(problem);
  });
});
