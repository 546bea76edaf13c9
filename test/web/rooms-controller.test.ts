import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { type ChatUser, Limits, type MessageFrame, messageId } from "../../core/protocol.js";
import { type TokenBucket, takeToken } from "../../core/rate-limiter.js";
import type { ClientFrame, GatewayErrorFrame, IncomingFrame } from "../../web/src/frames.js";
import { RoomsController, type RoomsControllerOptions, type RoomsEvent } from "../../web/src/rooms/rooms-controller.js";

/**
 * The controller against a scripted server: what it sends when, how it reads the answers, and that the room state
 * it ends with is complete. Fake timers drive the pacing and the gap-fill delay.
 */

const ME = "u-me";
const ann: ChatUser = { userId: "u-ann", name: "Ann" };
const msg = (room: string, n: number, sender: ChatUser = ann): MessageFrame => ({
  type: "message",
  room,
  id: messageId(n),
  sender,
  text: `${room} ${n}`,
  sentAt: "2026-11-29T06:30:00.000Z",
});
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
/** Messages `from..to` of a room, all from Ann. */
const msgs = (room: string, from: number, to: number) => range(from, to).map((n) => msg(room, n));

/** Where the controller keeps ME's room list. */
const KEY = "chat.rooms.u-me";
type RoomListJson = { rooms: string[]; selected: string; readUpTo: Record<string, string> };
const storedList = (storage: MemoryStorage) => JSON.parse(storage.getItem(KEY) ?? "{}") as RoomListJson;

class MemoryStorage {
  readonly items = new Map<string, string>();
  /** setItem calls: each is a `storage` event in the other tabs. */
  writes = 0;
  getItem(key: string) {
    return this.items.get(key) ?? null;
  }
  setItem(key: string, value: string) {
    this.writes++;
    this.items.set(key, value);
  }
}

function setup(
  options: {
    storage?: MemoryStorage;
    live?: boolean;
    joinBackoff?: RoomsControllerOptions["joinBackoff"];
    isPageVisible?: () => boolean;
    maxMessagesPerRoom?: number;
  } = {},
) {
  const sent: ClientFrame[] = [];
  const events: RoomsEvent[] = [];
  let connected = false;
  const storage = options.storage ?? new MemoryStorage();
  const rooms = new RoomsController({
    ownUserId: ME,
    storage,
    joinBackoff: options.joinBackoff,
    isPageVisible: options.isPageVisible,
    maxMessagesPerRoom: options.maxMessagesPerRoom,
    send: (frame) => {
      if (!connected) return false;
      sent.push(frame);
      return true;
    },
  });
  rooms.onEvent((event) => events.push(event));
  const frame = (value: IncomingFrame) => rooms.handleFrame(value);
  const goLive = () => {
    connected = true;
    rooms.handleState({ status: "live" });
  };
  const drop = () => {
    connected = false;
    rooms.handleState({ status: "reconnecting", attempt: 1, retryAt: Date.now() + 1000, reason: "dropped" });
  };
  /** Answers a join as the server does: history, then presence. */
  const answerJoin = (room: string, messages: MessageFrame[], hasMore = false, users: ChatUser[] = [ann]) => {
    frame({ type: "history", room, messages, hasMore });
    frame({ type: "presence", room, users, version: 1 });
  };
  const ids = (room: string) => rooms.room(room)?.messages.map((message) => Number(message.id)) ?? [];
  const takeSent = () => sent.splice(0);
  const sendErrors = () => events.filter((event) => event.type === "send-error");
  if (options.live ?? true) goLive();
  return { rooms, sent, events, storage, frame, goLive, drop, answerJoin, ids, takeSent, sendErrors };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe("joining", () => {
  it("joins the lobby when live, and lets messages go there at once", () => {
    const { rooms, sent } = setup();
    expect(sent).toEqual([{ action: "join", room: "lobby" }]);
    expect(rooms.canSend("lobby")).toBe(true);
    expect(rooms.sendMessage("  hi ")).toBe(true);
    expect(sent.at(-1)).toEqual({ action: "sendmessage", room: "lobby", text: "hi" });
  });

  it("creates a room from a typed name, selects it, and can send there once the server answered", () => {
    const { rooms, frame, takeSent, answerJoin } = setup();
    answerJoin("lobby", []);
    takeSent();
    expect(rooms.joinByName(" #Design ")).toEqual({ ok: true, room: "design" });
    expect(rooms.selected).toBe("design");
    expect(rooms.roomNames).toEqual(["lobby", "design"]);
    expect(takeSent()).toEqual([{ action: "join", room: "design" }]);
    expect(rooms.canSend("design")).toBe(false);
    frame({ type: "history", room: "design", messages: [msg("design", 1)], hasMore: false });
    expect(rooms.canSend("design")).toBe(true);
    expect(rooms.room("design")?.loaded).toBe(true);
  });

  it("refuses bad names and a 21st room before asking the server", () => {
    const { rooms } = setup();
    expect(rooms.joinByName("no spaces")).toMatchObject({ ok: false });
    for (let i = 1; i < 20; i++) expect(rooms.joinByName(`room-${i}`).ok).toBe(true);
    expect(rooms.joinByName("one-too-many")).toEqual({
      ok: false,
      problem: "You can be in at most 20 rooms. Leave one first.",
    });
  });

  it("drops a room the server refuses, and says why", () => {
    const { rooms, frame, events, answerJoin, takeSent } = setup();
    answerJoin("lobby", []);
    rooms.joinByName("design");
    takeSent();
    frame({ type: "error", code: "invalid_room", message: "Not a room name.", room: "design" });
    expect(rooms.roomNames).toEqual(["lobby"]);
    expect(rooms.selected).toBe("lobby");
    expect(events).toContainEqual({ type: "room-error", message: "Could not join #design: Not a room name." });
  });

  it("joins again when the server counts a room just left (its leave not done yet), and gives up after a few", () => {
    const { rooms, frame, events, answerJoin, takeSent } = setup({ joinBackoff: { random: () => 0.999 } });
    answerJoin("lobby", []);
    rooms.joinByName("old");
    answerJoin("old", []);
    rooms.leave("old");
    rooms.joinByName("design"); // at the cap on the server, the join may overtake the leave
    takeSent();
    const full = { type: "error", code: "too_many_rooms", message: "At most 20 rooms.", room: "design" } as const;
    for (let retry = 0; retry < 3; retry++) {
      frame(full);
      expect(rooms.roomNames).toEqual(["lobby", "design"]);
      vi.advanceTimersByTime(2_500); // the join backoff's waits: 0.5, 1, 2 s
      expect(takeSent()).toEqual([{ action: "join", room: "design" }]);
    }
    frame(full);
    expect(rooms.roomNames).toEqual(["lobby"]);
    expect(events).toContainEqual({ type: "room-error", message: "Could not join #design: At most 20 rooms." });
  });

  it("does not count a join answered after the room was left: joined again, it waits for the new answer", () => {
    const { rooms, frame, answerJoin } = setup();
    answerJoin("lobby", []);
    rooms.joinByName("design");
    rooms.leave("design");
    frame({ type: "history", room: "design", messages: [], hasMore: false });
    frame({ type: "presence", room: "design", users: [ann], version: 1 }); // the late answer to the first join
    rooms.joinByName("design");
    expect(rooms.canSend("design")).toBe(false);
  });

  it("leaves a room: gone from the list and told to the server; the lobby stays", () => {
    const { rooms, answerJoin, takeSent } = setup();
    answerJoin("lobby", []);
    rooms.joinByName("design");
    answerJoin("design", []);
    takeSent();
    rooms.leave("lobby");
    rooms.leave("design");
    expect(rooms.roomNames).toEqual(["lobby"]);
    expect(rooms.selected).toBe("lobby");
    expect(takeSent()).toEqual([{ action: "leave", room: "design" }]);
  });

  it("keeps the rooms per user across page loads", () => {
    const storage = new MemoryStorage();
    const first = setup({ storage });
    first.rooms.joinByName("design");
    first.rooms.joinByName("ops");
    first.rooms.select("design");
    const second = setup({ storage, live: false });
    expect(second.rooms.roomNames).toEqual(["lobby", "design", "ops"]);
    expect(second.rooms.selected).toBe("design");
    storage.setItem(KEY, '{"rooms":["lobby","BAD NAME",42,"ok"],"selected":"BAD NAME"}');
    const third = setup({ storage, live: false });
    expect(third.rooms.roomNames).toEqual(["lobby", "ok"]);
    expect(third.rooms.selected).toBe("lobby");
  });
});

describe("unread across visits", () => {
  it("counts what others said since the last visit as unread, and what was read as read", () => {
    const storage = new MemoryStorage();
    const first = setup({ storage });
    first.answerJoin("lobby", [msg("lobby", 1)]);
    first.rooms.joinByName("design");
    first.answerJoin("design", msgs("design", 1, 2)); // seen: design is on screen
    first.rooms.select("lobby");
    first.frame(msg("design", 3)); // arrives while the lobby is on screen: unread
    first.frame(msg("lobby", 2)); // on screen: read
    expect(first.rooms.room("design")?.unread).toBe(1);

    // The next visit: each room's first history now includes what came after.
    const me: ChatUser = { userId: ME, name: "Me" };
    const second = setup({ storage });
    second.answerJoin("lobby", msgs("lobby", 1, 3));
    second.answerJoin("design", [
      msg("design", 1),
      msg("design", 2),
      msg("design", 3),
      msg("design", 4, me),
      msg("design", 5),
    ]);
    expect(second.rooms.selected).toBe("lobby");
    expect(second.rooms.room("lobby")?.unread).toBe(0); // on screen
    expect(second.rooms.room("design")?.unread).toBe(2); // 3 and 5; 4 is my own
    second.rooms.select("design");
    expect(second.rooms.room("design")?.unread).toBe(0);

    // Read stays read on the visit after.
    const third = setup({ storage });
    third.answerJoin("design", [msg("design", 4, me), msg("design", 5)]);
    expect(third.rooms.room("design")?.unread).toBe(0);
  });

  it("starts a room never seen, and one whose stored mark is not a message id, at no unread", () => {
    const storage = new MemoryStorage();
    storage.setItem(
      KEY,
      JSON.stringify({ rooms: ["lobby", "ops", "qa"], selected: "lobby", readUpTo: { ops: "12", nope: messageId(1) } }),
    );
    const { rooms, answerJoin } = setup({ storage });
    answerJoin("lobby", []);
    answerJoin("ops", msgs("ops", 1, 2));
    answerJoin("qa", [msg("qa", 1)]);
    expect(rooms.room("ops")?.unread).toBe(0);
    expect(rooms.room("qa")?.unread).toBe(0);
  });
});

describe("the same person's other tabs", () => {
  /** Two tabs of one browser: one storage, each with its own socket. */
  function twoTabs() {
    const storage = new MemoryStorage();
    const a = setup({ storage });
    const b = setup({ storage });
    a.answerJoin("lobby", []);
    b.answerJoin("lobby", []);
    a.takeSent();
    b.takeSent();
    /** What a browser does after one tab writes: a `storage` event in the others. */
    const toB = () => b.rooms.syncFromStorage(KEY);
    const toA = () => a.rooms.syncFromStorage(KEY);
    return { a, b, toA, toB };
  }

  it("joins a room another tab joined, without showing it, and leaves one it left", () => {
    const { a, b, toB } = twoTabs();
    a.rooms.joinByName("design");
    toB();
    expect(b.rooms.roomNames).toEqual(["lobby", "design"]);
    expect(b.rooms.selected).toBe("lobby");
    expect(b.takeSent()).toEqual([{ action: "join", room: "design" }]);
    b.answerJoin("design", []);

    a.rooms.leave("design");
    toB();
    expect(b.rooms.roomNames).toEqual(["lobby"]);
    expect(b.takeSent()).toEqual([{ action: "leave", room: "design" }]);
  });

  it("clears unread messages the other tab has shown, and keeps the further read mark when it writes the list", () => {
    const { a, b, toA, toB } = twoTabs();
    a.rooms.joinByName("design");
    toB();
    a.answerJoin("design", [msg("design", 1)]);
    b.answerJoin("design", [msg("design", 1)]);
    a.rooms.select("lobby");
    for (const tab of [a, b]) tab.frame(msg("design", 2));
    expect(a.rooms.room("design")?.unread).toBe(1);

    b.rooms.select("design"); // read in tab B
    // Tab A, before it hears of that, writes the list again (it joins a room) with its own older mark (1): the
    // further one (2) stands.
    a.rooms.joinByName("ops");
    a.rooms.select("lobby");
    const stored = storedList(a.storage);
    expect(stored.rooms).toEqual(["lobby", "design", "ops"]);
    expect(stored.readUpTo.design).toBe(messageId(2));

    toA();
    expect(a.rooms.room("design")?.unread).toBe(0);
  });

  it("counts messages in the selected room as unread while the page is hidden, and reads them when it is shown", () => {
    let visible = true;
    const storage = new MemoryStorage();
    const { rooms, frame, answerJoin } = setup({ storage, isPageVisible: () => visible });
    answerJoin("lobby", [msg("lobby", 1)]);
    vi.advanceTimersByTime(1000);
    expect(storedList(storage).readUpTo.lobby).toBe(messageId(1));

    visible = false; // another tab in front, or the window minimised
    frame(msg("lobby", 2));
    frame(msg("lobby", 3));
    expect(rooms.totalUnread).toBe(2); // the title shows "(2)"
    vi.advanceTimersByTime(1000);
    expect(storedList(storage).readUpTo.lobby).toBe(messageId(1)); // not read in the person's other tabs either

    visible = true;
    rooms.pageShown();
    expect(rooms.totalUnread).toBe(0);
    vi.advanceTimersByTime(1000);
    expect(storedList(storage).readUpTo.lobby).toBe(messageId(3));
  });

  it("leaves the lobby's unread count when the room on screen is left from another tab while this one is hidden", () => {
    let visible = true;
    const { rooms, frame, answerJoin } = setup({ isPageVisible: () => visible });
    answerJoin("lobby", []);
    rooms.joinByName("design");
    answerJoin("design", []);
    frame(msg("lobby", 1));
    visible = false;
    rooms.leave("design"); // as a leave from another tab does, through syncFromStorage
    expect(rooms.selected).toBe("lobby");
    expect(rooms.totalUnread).toBe(1);
    visible = true;
    rooms.pageShown();
    expect(rooms.totalUnread).toBe(0);
  });

  it("does not count a message as unread when the other tab has already shown it", () => {
    const { a, b, toA, toB } = twoTabs();
    a.rooms.joinByName("design");
    toB();
    a.answerJoin("design", [msg("design", 1)]);
    b.answerJoin("design", [msg("design", 1)]);
    b.rooms.select("design");
    a.rooms.select("lobby");
    b.frame(msg("design", 2)); // B, which shows design, gets it first
    vi.advanceTimersByTime(1000); // B writes its read mark
    toA();
    a.frame(msg("design", 2));
    expect(a.rooms.room("design")?.unread).toBe(0);
    a.frame(msg("design", 3));
    expect(a.rooms.room("design")?.unread).toBe(1);
  });

  it("writes read marks at most once a second however fast messages come, and at once when the page goes", () => {
    const { a } = twoTabs();
    a.rooms.joinByName("design");
    a.answerJoin("design", []);
    const writes = () => a.storage.writes;
    const before = writes();
    for (let n = 1; n <= 20; n++) a.frame(msg("design", n));
    expect(writes()).toBe(before);
    vi.advanceTimersByTime(1000);
    expect(writes()).toBe(before + 1);
    a.frame(msg("design", 21));
    a.rooms.flushStorage(); // pagehide
    expect(writes()).toBe(before + 2);
    const stored = storedList(a.storage);
    expect(stored.readUpTo.design).toBe(messageId(21));
  });

  it("keeps a room another tab joined when this one writes before hearing of it", () => {
    const { a, b } = twoTabs();
    a.rooms.joinByName("design");
    b.rooms.joinByName("ops"); // before B's storage event for design
    const stored = storedList(a.storage);
    expect(stored.rooms).toEqual(["lobby", "design", "ops"]);
  });

  it("at the room cap, takes a swap (one room left, another joined) seen in one storage event", () => {
    const { a, b, toB } = twoTabs();
    for (const n of range(1, 19)) a.rooms.joinByName(`room-${n}`);
    toB();
    expect(b.rooms.roomNames).toHaveLength(20);
    a.rooms.leave("room-19");
    a.rooms.joinByName("design");
    toB(); // B reads the list once, after both writes
    expect(b.rooms.roomNames).toContain("design");
    expect(b.rooms.roomNames).not.toContain("room-19");
    expect(b.rooms.roomNames).toHaveLength(20);
  });

  it("ignores other keys, and other people's lists", () => {
    const { a, b } = twoTabs();
    a.rooms.joinByName("design");
    b.rooms.syncFromStorage("something-else");
    b.rooms.syncFromStorage("chat.rooms.u-someone-else");
    expect(b.rooms.roomNames).toEqual(["lobby"]);
    b.rooms.syncFromStorage(null); // storage cleared elsewhere: re-read
    expect(b.rooms.roomNames).toEqual(["lobby", "design"]);
  });
});

describe("reconnecting", () => {
  it("rejoins every room, the one on screen first, each with the last id it has, and merges without duplicates", () => {
    const { rooms, answerJoin, takeSent, drop, goLive, frame, ids } = setup();
    rooms.joinByName("ops");
    rooms.joinByName("design");
    expect(takeSent()).toEqual([{ action: "join", room: "lobby" }]); // one request at a time
    answerJoin("lobby", [msg("lobby", 1)]);
    answerJoin("design", msgs("design", 1, 3));
    answerJoin("ops", []);
    expect(takeSent()).toEqual([
      { action: "join", room: "design" },
      { action: "join", room: "ops" },
    ]);

    drop();
    goLive();
    expect(takeSent()).toEqual([{ action: "join", room: "design", after: messageId(3) }]);
    // Live messages can overtake the join's answer: the merge takes each once.
    frame(msg("design", 5));
    answerJoin("design", msgs("design", 4, 5));
    expect(takeSent()).toEqual([{ action: "join", room: "lobby", after: messageId(1) }]);
    answerJoin("lobby", []);
    // A room that loaded empty has no id yet: a plain join brings its recent history.
    expect(takeSent()).toEqual([{ action: "join", room: "ops" }]);
    expect(ids("design")).toEqual([1, 2, 3, 4, 5]);
  });

  it("follows hasMore until caught up", () => {
    const { rooms, answerJoin, takeSent, drop, goLive, frame, ids } = setup();
    answerJoin("lobby", msgs("lobby", 1, 10));
    takeSent();
    drop();
    goLive();
    expect(takeSent()).toEqual([{ action: "join", room: "lobby", after: messageId(10) }]);
    answerJoin("lobby", msgs("lobby", 11, 110), true);
    expect(takeSent()).toEqual([{ action: "history", room: "lobby", after: messageId(110) }]);
    frame({ type: "history", room: "lobby", messages: msgs("lobby", 111, 160), hasMore: false });
    vi.advanceTimersByTime(5000);
    expect(takeSent()).toEqual([]);
    expect(ids("lobby")).toEqual(range(1, 160));
    expect(rooms.room("lobby")?.frontier).toBe(messageId(160));
  });

  it("counts what a catch-up brings into a room not on screen as unread", () => {
    const { rooms, answerJoin, drop, goLive, takeSent } = setup();
    rooms.joinByName("design");
    answerJoin("design", [msg("design", 1)]);
    answerJoin("lobby", [msg("lobby", 1)]);
    drop();
    goLive();
    takeSent();
    answerJoin("design", []);
    answerJoin("lobby", [msg("lobby", 2), msg("lobby", 3, { userId: ME })]);
    expect(rooms.room("lobby")?.unread).toBe(1);
    rooms.select("lobby");
    expect(rooms.room("lobby")?.unread).toBe(0);
  });
});

describe("gaps", () => {
  it("fills a gap that is still there a moment later, with history after the last contiguous id", () => {
    const { answerJoin, takeSent, frame, ids } = setup();
    answerJoin("lobby", msgs("lobby", 1, 10));
    takeSent();
    frame(msg("lobby", 13));
    vi.advanceTimersByTime(999);
    expect(takeSent()).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(takeSent()).toEqual([{ action: "history", room: "lobby", after: messageId(10) }]);
    frame({ type: "history", room: "lobby", messages: [msg("lobby", 11), msg("lobby", 13)], hasMore: false });
    expect(ids("lobby")).toEqual([...range(1, 11), 13]);
    vi.advanceTimersByTime(5000);
    expect(takeSent()).toEqual([]); // 12 never existed: the answer said so; no asking again
  });

  it("fetches a message a room that loaded empty missed before its first live one", () => {
    const { answerJoin, takeSent, frame, ids } = setup();
    answerJoin("lobby", []);
    takeSent();
    frame(msg("lobby", 2)); // the post of 1 to this page failed
    vi.advanceTimersByTime(1000);
    expect(takeSent()).toEqual([{ action: "history", room: "lobby", after: messageId(0) }]);
    frame({ type: "history", room: "lobby", messages: msgs("lobby", 1, 2), hasMore: false });
    expect(ids("lobby")).toEqual([1, 2]);
    vi.advanceTimersByTime(5000);
    expect(takeSent()).toEqual([]);
  });

  it("asks once, not in a loop, in a room whose history has all expired", () => {
    const { rooms, answerJoin, takeSent, frame, ids } = setup();
    answerJoin("lobby", []);
    takeSent();
    frame(msg("lobby", 37));
    vi.advanceTimersByTime(1000);
    expect(takeSent()).toEqual([{ action: "history", room: "lobby", after: messageId(0) }]);
    frame({ type: "history", room: "lobby", messages: [msg("lobby", 37)], hasMore: false });
    frame(msg("lobby", 38));
    vi.advanceTimersByTime(60_000);
    expect(takeSent()).toEqual([]);
    expect(ids("lobby")).toEqual([37, 38]);
    expect(rooms.room("lobby")?.frontier).toBe(messageId(38));
  });

  it("does not ask when the missing message arrives late on its own", () => {
    const { answerJoin, takeSent, frame, ids } = setup();
    answerJoin("lobby", msgs("lobby", 1, 10));
    takeSent();
    frame(msg("lobby", 12));
    frame(msg("lobby", 11));
    vi.advanceTimersByTime(5000);
    expect(takeSent()).toEqual([]);
    expect(ids("lobby")).toEqual(range(1, 12));
  });
});

describe("older messages", () => {
  it("asks for the page before the oldest one, once at a time, and stops at the start", () => {
    const { rooms, answerJoin, takeSent, frame, ids } = setup();
    answerJoin("lobby", msgs("lobby", 101, 150), true);
    takeSent();
    rooms.loadOlder("lobby");
    rooms.loadOlder("lobby");
    expect(rooms.isLoadingOlder("lobby")).toBe(true);
    expect(takeSent()).toEqual([{ action: "history", room: "lobby", before: messageId(101) }]);
    frame({ type: "history", room: "lobby", messages: msgs("lobby", 1, 100), hasMore: false });
    expect(rooms.isLoadingOlder("lobby")).toBe(false);
    expect(ids("lobby")).toEqual(range(1, 150));
    rooms.loadOlder("lobby");
    expect(takeSent()).toEqual([]);
    expect(rooms.room("lobby")?.unread).toBe(0);
  });
});

describe("pacing", () => {
  it("keeps within the server's rate limit when rejoining many rooms, leaving room for a message", () => {
    const storage = new MemoryStorage();
    const names = range(1, 19).map((n) => `room-${String(n).padStart(2, "0")}`);
    storage.setItem(KEY, JSON.stringify({ rooms: ["lobby", ...names], selected: "lobby" }));
    const { rooms, takeSent, answerJoin } = setup({ storage });
    // The server's own bucket (core/rate-limiter.ts) at its default limit: every frame but refresh takes a token.
    const limit = { burst: Limits.defaultMessageBurst, perSecond: Limits.defaultMessagesPerSecond };
    let bucket: TokenBucket | undefined;
    const take = () => {
      const result = takeToken(bucket, Date.now(), limit);
      expect(result.allowed).toBe(true);
      bucket = result.bucket;
    };
    const joined: string[] = [];
    const answerAll = () => {
      for (let frames = takeSent(); frames.length > 0; frames = takeSent()) {
        for (const sent of frames) {
          take();
          if (sent.action !== "join") continue;
          joined.push(sent.room);
          answerJoin(sent.room, []);
        }
      }
    };
    answerAll();
    expect(joined).toHaveLength(8); // a burst of 10, less 2 kept for people
    expect(rooms.sendMessage("still possible")).toBe(true);
    answerAll();
    const start = Date.now();
    while (joined.length < 20 && Date.now() - start < 30_000) {
      vi.advanceTimersByTime(100);
      answerAll();
      // Someone typing all along still gets through.
      if ((Date.now() - start) % 2000 === 0) {
        expect(rooms.sendMessage("typing away")).toBe(true);
        answerAll();
      }
    }
    expect(new Set(joined).size).toBe(20);
    expect(Date.now() - start).toBeLessThan(12_000);
  });

  it("sends a join the server refused as too fast again, later", () => {
    const { takeSent, frame } = setup();
    expect(takeSent()).toEqual([{ action: "join", room: "lobby" }]);
    frame({ type: "error", code: "rate_limited", message: "Too many messages", room: "lobby" });
    expect(takeSent()).toEqual([]);
    vi.advanceTimersByTime(2000);
    expect(takeSent()).toEqual([{ action: "join", room: "lobby" }]);
  });

  it("moves on when an answer never comes", () => {
    const { rooms, takeSent } = setup();
    rooms.joinByName("design");
    expect(takeSent()).toEqual([{ action: "join", room: "lobby" }]);
    vi.advanceTimersByTime(10_000);
    expect(takeSent()).toEqual([{ action: "join", room: "design" }]);
  });
});

describe("errors", () => {
  it("rejoins a room the server says this connection is not in", () => {
    const { rooms, answerJoin, takeSent, frame, sendErrors } = setup();
    answerJoin("lobby", []);
    rooms.joinByName("design");
    answerJoin("design", []);
    takeSent();
    expect(rooms.sendMessage("hello")).toBe(true);
    takeSent();
    frame({ type: "error", code: "not_a_member", message: 'Join "design" first.', room: "design" });
    expect(rooms.canSend("design")).toBe(false);
    expect(takeSent()).toEqual([{ action: "join", room: "design" }]);
    expect(sendErrors()).toHaveLength(1);
  });

  it("says nothing about a room already left", () => {
    const { rooms, answerJoin, frame, sendErrors, takeSent } = setup();
    answerJoin("lobby", []);
    rooms.joinByName("design");
    answerJoin("design", []);
    rooms.leave("design");
    takeSent();
    frame({ type: "error", code: "not_a_member", message: 'Join "design" first.', room: "design" });
    expect(sendErrors()).toEqual([]);
    expect(takeSent()).toEqual([]);
  });

  it("lets scrolling ask again when a page of older messages failed", () => {
    const { rooms, answerJoin, frame, takeSent } = setup();
    answerJoin("lobby", msgs("lobby", 51, 100), true);
    takeSent();
    rooms.loadOlder("lobby");
    expect(takeSent()).toHaveLength(1);
    frame({ type: "error", code: "internal_error", message: "That did not work.", room: "lobby" });
    expect(rooms.isLoadingOlder("lobby")).toBe(false);
    rooms.loadOlder("lobby");
    expect(takeSent()).toEqual([{ action: "history", room: "lobby", before: messageId(51) }]);
  });

  const joinFailure = { type: "error", code: "internal_error", message: "That did not work.", room: "design" } as const;
  /** The retry delays at the top of each jittered range: 0.5 s, 1 s, 2 s, ... less a little. */
  const slowest = { random: () => 0.999 };

  it("keeps trying a failed join, each time after a longer wait, while the connection is live", () => {
    const { rooms, answerJoin, frame, takeSent } = setup({ joinBackoff: slowest });
    answerJoin("lobby", []);
    takeSent();
    rooms.joinByName("design");
    expect(takeSent()).toEqual([{ action: "join", room: "design" }]);
    expect(rooms.isRetryingJoin("design")).toBe(false);
    for (const wait of [499, 999, 1998, 3996, 7992]) {
      frame(joinFailure);
      vi.advanceTimersByTime(wait - 1);
      expect(takeSent()).toEqual([]);
      vi.advanceTimersByTime(1);
      expect(takeSent()).toEqual([{ action: "join", room: "design" }]);
    }
    // No answer at all counts as a failure too.
    vi.advanceTimersByTime(10_000 + 15_983);
    expect(takeSent()).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(takeSent()).toEqual([{ action: "join", room: "design" }]);
    expect(rooms.isRetryingJoin("design")).toBe(true); // the page says it is trying again
    answerJoin("design", []);
    expect(rooms.canSend("design")).toBe(true);
    expect(rooms.isRetryingJoin("design")).toBe(false);
    vi.advanceTimersByTime(120_000);
    expect(takeSent()).toEqual([]);
  });

  it("joins again at once when a room whose join failed is typed or picked again", () => {
    const { rooms, answerJoin, frame, takeSent } = setup({ joinBackoff: slowest });
    answerJoin("lobby", []);
    takeSent();
    rooms.joinByName("design");
    takeSent();
    frame(joinFailure); // its retry waits half a second
    expect(rooms.joinByName("design")).toEqual({ ok: true, room: "design" });
    expect(takeSent()).toEqual([{ action: "join", room: "design" }]);
    rooms.select("lobby");
    rooms.select("design"); // its join is in flight: not sent twice
    expect(takeSent()).toEqual([]);
    frame(joinFailure);
    rooms.select("lobby");
    rooms.select("design");
    expect(takeSent()).toEqual([{ action: "join", room: "design" }]);
    answerJoin("design", []);
    rooms.joinByName("design"); // joined: nothing to do
    vi.advanceTimersByTime(120_000);
    expect(takeSent()).toEqual([]);
    expect(rooms.canSend("design")).toBe(true);
  });

  it("does not try again a join refused for good, nor any failed join once the connection is gone", () => {
    const { rooms, answerJoin, frame, takeSent, drop } = setup({ joinBackoff: slowest });
    answerJoin("lobby", []);
    rooms.joinByName("design");
    takeSent();
    frame({ ...joinFailure, code: "invalid_room" });
    vi.advanceTimersByTime(120_000);
    expect(takeSent()).toEqual([]);
    rooms.joinByName("ops");
    takeSent();
    frame({ ...joinFailure, room: "ops" });
    expect(vi.getTimerCount()).toBeGreaterThan(0); // its retry waits
    drop();
    expect(vi.getTimerCount()).toBe(0); // the next connection joins every room anyway
    expect(rooms.roomNames).toEqual(["lobby", "ops"]);
  });

  it("gives back the text of a message the server refused, so it can be sent again", () => {
    const { rooms, answerJoin, frame, sendErrors } = setup();
    answerJoin("lobby", []);
    rooms.joinByName("design");
    answerJoin("design", []);
    const unsent = () => sendErrors().map((event) => (event.type === "send-error" ? event.unsent : undefined));
    rooms.sendMessage("  too fast ");
    frame({ type: "error", code: "rate_limited", message: "Too many messages", room: "design" });
    rooms.sendMessage("broken");
    frame({ type: "error", code: "internal_error", message: "The server failed.", room: "design" });
    rooms.sendMessage("not in");
    frame({ type: "error", code: "not_a_member", message: "Not in the room.", room: "design" });
    expect(unsent()).toEqual([
      { room: "design", text: "too fast" },
      { room: "design", text: "broken" },
      { room: "design", text: "not in" },
    ]);
  });

  it("gives back no text when two messages of the room were on their way: answers need not come in order", () => {
    const { rooms, answerJoin, frame, sendErrors } = setup();
    answerJoin("lobby", []);
    rooms.sendMessage("first");
    rooms.sendMessage("second");
    frame({ type: "error", code: "rate_limited", message: "Too many messages", room: "lobby" });
    expect(sendErrors()).toEqual([expect.objectContaining({ code: "rate_limited", unsent: undefined })]);
  });

  it("shows errors about a message the person sent", () => {
    const { rooms, answerJoin, frame, sendErrors } = setup();
    answerJoin("lobby", []);
    rooms.sendMessage("x");
    frame({ type: "error", code: "rate_limited", message: "Too many messages", room: "lobby" });
    frame({ type: "error", code: "invalid_json", message: "The message is not valid JSON." });
    expect(sendErrors()).toHaveLength(2);
  });
});

describe("API Gateway's own errors", () => {
  const gateway = (reason: GatewayErrorFrame["reason"]): GatewayErrorFrame => ({
    type: "gateway-error",
    reason,
    message: {
      throttled: "Too Many Requests",
      failed: "Internal server error",
      "timed-out": "Endpoint request timed out",
    }[reason],
  });

  it("sends the background request in flight again later when its route was throttled", () => {
    const { takeSent, frame, sendErrors } = setup();
    expect(takeSent()).toEqual([{ action: "join", room: "lobby" }]);
    frame(gateway("throttled"));
    expect(takeSent()).toEqual([]);
    vi.advanceTimersByTime(2000);
    expect(takeSent()).toEqual([{ action: "join", room: "lobby" }]);
    expect(sendErrors()).toEqual([]);
  });

  it("takes a failed or timed-out integration as the failure of the background request in flight", () => {
    const { rooms, answerJoin, takeSent, frame, sendErrors } = setup({ joinBackoff: { random: () => 0.999 } });
    answerJoin("lobby", []);
    rooms.joinByName("design");
    expect(takeSent()).toEqual([
      { action: "join", room: "lobby" },
      { action: "join", room: "design" },
    ]);
    frame(gateway("failed"));
    vi.advanceTimersByTime(499); // not the 10 s an answer is waited for
    expect(takeSent()).toEqual([{ action: "join", room: "design" }]);
    frame(gateway("timed-out"));
    vi.advanceTimersByTime(999);
    expect(takeSent()).toEqual([{ action: "join", room: "design" }]);
    expect(sendErrors()).toEqual([]);
  });

  it("tells the person, in plain words, when it is about a message they just sent", () => {
    const { rooms, answerJoin, takeSent, frame, sendErrors } = setup();
    answerJoin("lobby", []);
    rooms.joinByName("design");
    takeSent();
    rooms.select("lobby");
    rooms.sendMessage("hello"); // while design's join is in flight
    frame(gateway("throttled"));
    expect(sendErrors()).toEqual([
      {
        type: "send-error",
        code: "throttled",
        message: expect.stringMatching(/^The chat is busy/),
        unsent: { room: "lobby", text: "hello" }, // back into the composer, to send again
      },
    ]);
    expect(takeSent()).toEqual([{ action: "sendmessage", room: "lobby", text: "hello" }]); // the join was not throttled
  });

  it("pins a late failure (the handler timed out after 29 s) on a message sent and not seen back", () => {
    const { rooms, answerJoin, frame, sendErrors, takeSent } = setup();
    answerJoin("lobby", []);
    takeSent();
    rooms.sendMessage("lost");
    rooms.sendMessage("  arrived\n");
    frame({ ...msg("lobby", 1, { userId: ME }), text: "arrived" }); // one of the two came back, trimmed
    frame({ ...msg("lobby", 2, { userId: ME }), text: "from my other tab" });
    vi.advanceTimersByTime(29_000);
    frame(gateway("timed-out"));
    expect(sendErrors()).toEqual([
      {
        type: "send-error",
        code: "timed-out",
        message: expect.stringMatching(/^The server took too long/),
        unsent: undefined, // a handler that timed out may have stored and sent it all the same
      },
    ]);
    frame(gateway("timed-out")); // nothing else is waiting
    expect(sendErrors()).toHaveLength(1);
  });

  it("does not pin a failure on a message sent to a room since left, nor on one that came back in a history answer", () => {
    const { rooms, answerJoin, frame, sendErrors, takeSent } = setup();
    answerJoin("lobby", []);
    rooms.joinByName("design");
    answerJoin("design", []);
    rooms.sendMessage("to design");
    rooms.leave("design");
    rooms.select("lobby");
    rooms.sendMessage("to lobby");
    answerJoin("lobby", [{ ...msg("lobby", 1, { userId: ME }), text: "to lobby" }]); // came back in a catch-up
    takeSent();
    vi.advanceTimersByTime(5_000);
    frame(gateway("failed"));
    expect(sendErrors()).toEqual([]);
  });

  it("does not take an older message with the same text, scrolled into view, for the one just sent", () => {
    const { rooms, answerJoin, frame, sendErrors, takeSent } = setup();
    answerJoin("lobby", [{ ...msg("lobby", 5, { userId: ME }), text: "ok" }]);
    takeSent();
    rooms.sendMessage("ok");
    rooms.loadOlder("lobby");
    frame({
      type: "history",
      room: "lobby",
      messages: [{ ...msg("lobby", 2, { userId: ME }), text: "ok" }],
      hasMore: false,
    });
    vi.advanceTimersByTime(29_000);
    frame(gateway("timed-out"));
    expect(sendErrors()).toEqual([expect.objectContaining({ code: "timed-out" })]);
  });

  it("says nothing when neither a message nor a background request is waiting (it answered a refresh or a leave)", () => {
    const { answerJoin, frame, sendErrors, takeSent } = setup();
    answerJoin("lobby", []);
    takeSent();
    vi.advanceTimersByTime(5000);
    frame(gateway("failed"));
    frame(gateway("throttled"));
    expect(sendErrors()).toEqual([]);
    vi.advanceTimersByTime(60_000);
    expect(takeSent()).toEqual([]);
  });
});

describe("keeping rooms light", () => {
  it("trims rooms off screen at the limit, and the room on screen only when it leaves it or grows five times past", () => {
    const { rooms, frame, events, answerJoin, ids } = setup({ maxMessagesPerRoom: 3 });
    answerJoin("lobby", []);
    rooms.joinByName("design");
    answerJoin("design", []);
    rooms.select("lobby");
    const trims = () => events.flatMap((e) => (e.type === "trimmed" ? [`${e.room}:${e.removed.length}`] : []));
    for (const m of msgs("design", 1, 5)) frame(m);
    expect(ids("design")).toEqual([3, 4, 5]);
    // The person may be reading back in the room on screen: what they read stays.
    for (const m of msgs("lobby", 1, 15)) frame(m);
    expect(ids("lobby")).toHaveLength(15);
    expect(trims()).toEqual(["design:1", "design:1"]);
    rooms.select("design");
    expect(ids("lobby")).toEqual([13, 14, 15]);
    for (const m of msgs("design", 6, 17)) frame(m);
    expect(ids("design")).toHaveLength(15);
    frame(msg("design", 18)); // past five times the limit: trimmed in one go
    expect(ids("design")).toEqual([16, 17, 18]);
    expect(trims()).toEqual(["design:1", "design:1", "lobby:12", "design:13"]);
  });
});

describe("presence", () => {
  it("tracks who is online per room, and news that crossed on the way does not undo newer news", () => {
    const { rooms, frame, answerJoin } = setup();
    const bob = { userId: "u-bob", name: "Bob" };
    answerJoin("lobby", [], false, [ann, { userId: ME }]);
    frame({ type: "joined", room: "lobby", user: bob, version: 2 });
    frame({ type: "joined", room: "lobby", user: bob, version: 2 });
    expect([...(rooms.room("lobby")?.online.keys() ?? [])]).toEqual(["u-ann", ME, "u-bob"]);
    frame({ type: "left", room: "lobby", user: ann, version: 4 });
    frame({ type: "joined", room: "lobby", user: ann, version: 3 }); // sent by another Lambda before the departure
    expect([...(rooms.room("lobby")?.online.keys() ?? [])]).toEqual([ME, "u-bob"]);
  });
});
