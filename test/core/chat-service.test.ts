import { describe, expect, it } from "vitest";
import { ChatService } from "../../core/chat-service.js";
import { type ClientRequest, parseClientRequest } from "../../core/client-request.js";
import { InvalidRequestError } from "../../core/errors.js";
import { createConnectHandler } from "../../core/handlers/connect.js";
import { Logger } from "../../core/logger.js";
import { applyJoined, applyLeft, applyPresence, emptyRoom } from "../../web/src/rooms/room-state.js";
import { useTables } from "./chat-tables.js";
import { webSocketEvent } from "./handler-events.js";
import { RecordingApi } from "./recording-api.js";

// Rooms, history and presence through the real stores on a real DynamoDB implementation (dynalite).
const quiet = new Logger({ sink: () => {} });
const tables = useTables();

async function chatRoom() {
  let now = 1_795_932_000_000;
  const clock = () => now;
  const { connections, rooms } = await tables.fresh(clock);
  const api = new RecordingApi();
  // Hooks before and after the stores' calls, to line up what concurrent Lambdas would do, or to fail a call.
  const hooks: Hooks = { before: {}, after: {} };
  const chat = new ChatService({
    connections: hooked(connections, hooks),
    rooms: hooked(rooms, hooks),
    api,
    clock,
    logger: quiet,
    rateLimit: { burst: 1000, perSecond: 1000 },
    // A token here is `<userId>:<exp>`.
    verifier: {
      verify: async (token) => {
        const [userId = "", exp] = (token ?? "").split(":");
        return { userId, sessionHandle: "s", tenantId: "public", expiresAt: Number(exp) };
      },
    },
  });
  const connect = createConnectHandler({ store: connections, rooms, clock, logger: quiet });
  /** Opens a connection for a user, as `$connect` does. */
  const open = async (connectionId: string, userId: string, name = userId) => {
    const authorizer = { userId, name, sessionHandle: "s", tenantId: "public", expiresAt: now / 1000 + 3600 };
    const event = webSocketEvent("$connect", { connectionId, authorizer });
    event.requestContext.connectedAt = now;
    expect((await connect(event)).statusCode).toBe(200);
  };
  const act = (connectionId: string, request: Record<string, unknown>) =>
    chat.handle(connectionId, parseClientRequest(JSON.stringify(request)) as ClientRequest, quiet);
  const say = (connectionId: string, text: string, room = "lobby") =>
    act(connectionId, { action: "sendmessage", room, text });
  /**
   * Holds the next call of a store's `method` (one whose arguments `match`) at `when` until `release`; `reached`
   * once it waits there.
   */
  const hold = (when: keyof Hooks, method: string, match: (...args: unknown[]) => boolean = () => true) => {
    let reachedIt = () => {};
    let release = () => {};
    const reached = new Promise<void>((resolve) => (reachedIt = resolve));
    const released = new Promise<void>((resolve) => (release = resolve));
    hooks[when][method] = (...args) => {
      if (!match(...args)) return;
      delete hooks[when][method];
      reachedIt();
      return released;
    };
    return { reached, release };
  };
  /** bob, who hears the room's news in these tests, connects and joins `room`. */
  const bobWatches = async (room: string) => {
    await open("b", "bob");
    await act("b", { action: "join", room });
  };
  return { chat, api, connections, rooms, hooks, hold, open, act, say, bobWatches, tick: (ms: number) => (now += ms) };
}

const texts = (frames: { text: string }[]) => frames.map((f) => f.text);

type Hook = (...args: unknown[]) => Promise<void> | void;
type Hooks = { before: Record<string, Hook>; after: Record<string, Hook> };

/** `store`, with `hooks` run around any of its methods that has one when called. */
function hooked<T extends object>(store: T, hooks: Hooks): T {
  return new Proxy(store, {
    get(target, key, receiver) {
      const value: unknown = Reflect.get(target, key, receiver);
      const name = String(key);
      if (typeof value !== "function" || !(hooks.before[name] || hooks.after[name])) {
        return typeof value === "function" ? value.bind(target) : value;
      }
      if (value.constructor.name === "AsyncGeneratorFunction") throw new Error(`cannot hook ${name}: a generator`);
      return async (...args: unknown[]) => {
        await hooks.before[name]?.(...args);
        const result = await value.apply(target, args);
        await hooks.after[name]?.(...args);
        return result;
      };
    },
  });
}

/** The joined/left news one connection heard, as `room:type:userId`. */
const newsOf = (api: RecordingApi, connectionId: string) =>
  (api.frames.get(connectionId) ?? []).flatMap((f) =>
    f.type === "joined" || f.type === "left" ? [`${f.room}:${f.type}:${f.user.userId}`] : [],
  );

/**
 * Who the page of `connectionId` shows online in `room`, from the presence frames it got, taken as sent or in
 * reverse: frames from different Lambdas (or fan-out workers) may reach it in any order.
 */
function onlineShown(api: RecordingApi, connectionId: string, room: string, order: "sent" | "reversed" = "sent") {
  const frames = (api.frames.get(connectionId) ?? []).filter((f) => "room" in f && f.room === room);
  if (order === "reversed") frames.reverse();
  let shown = emptyRoom(room);
  for (const f of frames) {
    if (f.type === "presence") shown = applyPresence(shown, f.users, f.version);
    if (f.type === "joined") shown = applyJoined(shown, f.user, f.version);
    if (f.type === "left") shown = applyLeft(shown, f.user, f.version);
  }
  return [...shown.online.keys()].sort();
}

describe("rooms", () => {
  it("puts every new connection in the lobby, where messages reach it", async () => {
    const { api, open, say } = await chatRoom();
    await open("a", "ada");
    await open("b", "bob");
    await say("a", "hello lobby");
    expect(texts(api.of("b", "message"))).toEqual(["hello lobby"]);
    expect(api.of("a", "message")[0]).toMatchObject({ room: "lobby", sender: { userId: "ada", name: "ada" } });
  });

  it("delivers a room's messages to its members only", async () => {
    const { api, open, act, say } = await chatRoom();
    await open("a", "ada");
    await open("b", "bob");
    await open("c", "cy");
    await act("a", { action: "join", room: "dev" });
    await act("b", { action: "join", room: "dev" });
    await say("a", "in dev", "dev");
    expect(texts(api.of("b", "message"))).toEqual(["in dev"]);
    expect(api.of("c", "message")).toEqual([]);
  });

  it("refuses to send to a room the connection has not joined", async () => {
    const { open, say } = await chatRoom();
    await open("a", "ada");
    await expect(say("a", "hi", "secret")).rejects.toMatchObject({ code: "not_a_member" });
  });

  it("stops delivering to a connection that left the room", async () => {
    const { api, open, act, say, bobWatches } = await chatRoom();
    await open("a", "ada");
    await bobWatches("dev");
    await act("a", { action: "join", room: "dev" });
    await act("b", { action: "leave", room: "dev" });
    await say("a", "anyone?", "dev");
    expect(api.of("b", "message")).toEqual([]);
  });

  it("limits how many rooms one connection is in", async () => {
    const { open, act } = await chatRoom();
    await open("a", "ada");
    for (let i = 1; i < 20; i++) await act("a", { action: "join", room: `r${i}` });
    await expect(act("a", { action: "join", room: "one-too-many" })).rejects.toMatchObject({ code: "too_many_rooms" });
    await act("a", { action: "join", room: "r1" }); // joining again is no change
  });

  it.each(["", "UPPER", "has space", "-dash-first", "x".repeat(33), "émoji"])("refuses the room name %j", (room) => {
    expect(() => parseClientRequest(JSON.stringify({ action: "join", room }))).toThrow(InvalidRequestError);
  });
});

describe("history", () => {
  it("gives each room strictly increasing ids and sends the latest 50 on join, oldest first", async () => {
    const { api, open, act, say } = await chatRoom();
    await open("a", "ada");
    for (let i = 1; i <= 60; i++) await say("a", `m${i}`);
    await open("b", "bob");
    await act("b", { action: "join", room: "lobby" });
    const [history] = api.of("b", "history");
    expect(history?.messages).toHaveLength(50);
    expect(texts(history?.messages ?? [])).toEqual(Array.from({ length: 50 }, (_, i) => `m${i + 11}`));
    expect(history?.hasMore).toBe(true);
    const ids = history?.messages.map((m) => m.id) ?? [];
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("pages further back with before, and says when there is no more", async () => {
    const { api, open, act, say } = await chatRoom();
    await open("a", "ada");
    for (let i = 1; i <= 60; i++) await say("a", `m${i}`);
    await act("a", { action: "join", room: "lobby" });
    const oldest = api.of("a", "history")[0]?.messages[0]?.id;
    await act("a", { action: "history", room: "lobby", before: oldest });
    const page = api.of("a", "history")[1];
    expect(texts(page?.messages ?? [])).toEqual(Array.from({ length: 10 }, (_, i) => `m${i + 1}`));
    expect(page?.hasMore).toBe(false);
  });

  it("catches a reconnecting client up on everything after the last id it saw, without duplicates", async () => {
    const { api, open, act, say } = await chatRoom();
    await open("a", "ada");
    await open("b1", "bob");
    await say("a", "before the drop");
    const lastSeen = api.of("b1", "message").at(-1)?.id;
    // b1's phone loses signal; three messages go by; b2 is the same page reconnected.
    for (const text of ["while away 1", "while away 2", "while away 3"]) await say("a", text);
    await open("b2", "bob");
    await act("b2", { action: "join", room: "lobby", after: lastSeen });
    expect(texts(api.of("b2", "history")[0]?.messages ?? [])).toEqual(["while away 1", "while away 2", "while away 3"]);
  });

  it("keeps messages for the retention period only", async () => {
    const { api, open, act, say, tick } = await chatRoom();
    await open("a", "ada");
    await say("a", "old news");
    tick(31 * 24 * 3600 * 1000);
    await open("b", "bob");
    await act("b", { action: "join", room: "lobby" });
    expect(api.of("b", "history")[0]?.messages).toEqual([]);
  });

  it("pages past expired messages that DynamoDB has not deleted yet, and says there is nothing older", async () => {
    const { api, open, act, say, tick } = await chatRoom();
    await open("a", "ada");
    for (let i = 1; i <= 60; i++) await say("a", `old ${i}`);
    tick(29 * 24 * 3600 * 1000);
    await open("a2", "ada"); // a connection lives two hours at most
    for (let i = 1; i <= 20; i++) await say("a2", `new ${i}`);
    tick(2 * 24 * 3600 * 1000); // the first 60 are now past the 30-day retention
    await open("b", "bob");
    await act("b", { action: "join", room: "lobby" });
    const [history] = api.of("b", "history");
    expect(texts(history?.messages ?? [])).toEqual(Array.from({ length: 20 }, (_, i) => `new ${i + 1}`));
    expect(history?.hasMore).toBe(false);
  });

  it("splits a history of long messages into frames that each fit in one PostToConnection", async () => {
    const { api, open, act, say } = await chatRoom();
    await open("a", "ada");
    for (let i = 0; i < 50; i++) await say("a", "😀".repeat(2000));
    await act("a", { action: "join", room: "lobby" });
    const frames = api.of("a", "history");
    expect(frames.length).toBeGreaterThan(1);
    expect(frames.every((f) => Buffer.byteLength(JSON.stringify(f)) <= 131_072)).toBe(true);
    expect(frames.flatMap((f) => f.messages)).toHaveLength(50);
  });
});

describe("presence", () => {
  it("tells a joiner who is online, each user once, and tells the room about the joiner", async () => {
    const { api, open, act, bobWatches } = await chatRoom();
    await open("a1", "ada");
    await open("a2", "ada");
    await act("a1", { action: "join", room: "dev" });
    await act("a2", { action: "join", room: "dev" });
    await bobWatches("dev");
    expect(
      api
        .of("b", "presence")[0]
        ?.users.map((u) => u.userId)
        .sort(),
    ).toEqual(["ada", "bob"]);
    expect(api.of("a1", "joined").map((f) => f.user.userId)).toEqual(["bob"]);
    // ada's second tab was not news to the room
    expect(api.of("b", "joined")).toEqual([]);
    expect(onlineShown(api, "a1", "dev")).toEqual(["ada", "bob"]);
  });

  it("announces that a user left only when their last connection goes", async () => {
    const { chat, api, open, act } = await chatRoom();
    await open("a1", "ada");
    await open("a2", "ada");
    await open("b", "bob");
    for (const id of ["a1", "a2", "b"]) await act(id, { action: "join", room: "dev" });
    await chat.removeConnection("a1", true);
    expect(api.of("b", "left")).toEqual([]);
    await chat.removeConnection("a2", true);
    expect(api.of("b", "left").map((f) => [f.room, f.user.userId])).toEqual(
      expect.arrayContaining([
        ["dev", "ada"],
        ["lobby", "ada"],
      ]),
    );
  });

  it("announces a user once when two of their tabs join at the same moment", async () => {
    const { api, hooks, open, act, tick, bobWatches } = await chatRoom();
    await bobWatches("dev");
    await open("a1", "ada");
    tick(1);
    await open("a2", "ada");
    // Both memberships are written before either join goes on, as two Lambdas at once may do.
    let written = 0;
    let bothWritten = () => {};
    const both = new Promise<void>((resolve) => (bothWritten = resolve));
    hooks.after.joinMember = () => {
      if (++written === 2) bothWritten();
      return both;
    };
    await Promise.all([act("a1", { action: "join", room: "dev" }), act("a2", { action: "join", room: "dev" })]);
    expect(newsOf(api, "b")).toEqual(["dev:joined:ada"]);
  });

  it("leaves the room seeing a user who left in one tab while joining in another", async () => {
    const { api, hold, open, act } = await chatRoom();
    await open("b", "bob");
    await open("a1", "ada");
    await open("a2", "ada");
    for (const id of ["b", "a1"]) await act(id, { action: "join", room: "dev" });
    // a2's membership lands only after a1 has left and found no other tab of ada's in the room.
    const write = hold("before", "joinMember");
    const joining = act("a2", { action: "join", room: "dev" });
    await write.reached;
    await act("a1", { action: "leave", room: "dev" });
    write.release();
    await joining;
    expect(newsOf(api, "b")).toEqual(["dev:joined:ada", "dev:left:ada", "dev:joined:ada"]);
    // A reload's old tab and new tab run in two Lambdas: the later news wins whichever arrives first.
    expect(onlineShown(api, "b", "dev")).toEqual(["ada", "bob"]);
    expect(onlineShown(api, "b", "dev", "reversed")).toEqual(["ada", "bob"]);
  });

  it("keeps showing a user who joined in a new tab while the old tab's departure was still being sent", async () => {
    const { chat, api, hold, open, act, tick, bobWatches } = await chatRoom();
    await bobWatches("dev");
    await open("a1", "ada");
    await act("a1", { action: "join", room: "dev" });
    // A reload: the old tab's $disconnect has found ada gone from dev, and its news leaves only after the new tab
    // has joined and announced her.
    const found = hold("after", "isPresent", (room) => room === "dev");
    const disconnecting = chat.removeConnection("a1", true);
    await found.reached;
    tick(1);
    await open("a2", "ada");
    await act("a2", { action: "join", room: "dev" });
    found.release();
    await disconnecting;
    expect(newsOf(api, "b").filter((news) => news.startsWith("dev:"))).toEqual([
      "dev:joined:ada",
      "dev:joined:ada",
      "dev:left:ada",
    ]);
    expect(onlineShown(api, "b", "dev")).toEqual(["ada", "bob"]);
    expect(onlineShown(api, "b", "dev", "reversed")).toEqual(["ada", "bob"]);
  });

  it("does not announce a join after the same connection's leave that ran meanwhile", async () => {
    const { api, rooms, hooks, open, act, bobWatches } = await chatRoom();
    await bobWatches("dev");
    await open("a", "ada");
    // The page sends `leave` as soon as the join's answer (history, presence) is in; its Lambda may finish first.
    hooks.before.history = async () => {
      delete hooks.before.history;
      await act("a", { action: "leave", room: "dev" });
    };
    await act("a", { action: "join", room: "dev" });
    expect(await rooms.isPresent("dev", "ada")).toBe(false);
    expect(newsOf(api, "b").at(-1)).toBe("dev:left:ada");
  });

  it("announces a user whose first tab left before it could announce, while a later tab held back for it", async () => {
    const { api, rooms, hold, open, act, bobWatches } = await chatRoom();
    await bobWatches("dev");
    await open("a1", "ada");
    await open("a2", "ada");
    // a1 has written its membership and waits to decide; a2 joins, sees a1 first, and holds back; a1 then leaves,
    // quietly, since a2 is there.
    const deciding = hold("before", "membershipsOf");
    const first = act("a1", { action: "join", room: "dev" });
    await deciding.reached;
    await act("a2", { action: "join", room: "dev" });
    await act("a1", { action: "leave", room: "dev" });
    deciding.release();
    await first;
    expect(await rooms.isPresent("dev", "ada")).toBe(true);
    expect(newsOf(api, "b")).toEqual(["dev:joined:ada"]);
  });

  it("announces a user whose first tab closed while its join was answering, while a later tab held back", async () => {
    const { chat, api, rooms, hold, open, act, bobWatches } = await chatRoom();
    await bobWatches("dev");
    await open("a1", "ada");
    await open("a2", "ada");
    // a1 has joined and decided it is first; its answer waits, and meanwhile its tab closes and a2 joins.
    const answering = hold("before", "history");
    const deciding = hold("after", "membershipsOf");
    const first = act("a1", { action: "join", room: "dev" });
    await Promise.all([answering.reached, deciding.reached]);
    api.gone.add("a1");
    deciding.release();
    await act("a2", { action: "join", room: "dev" });
    answering.release();
    await expect(first).rejects.toThrow("gone"); // its answer found the socket gone
    await chat.removeConnection("a1", true);
    expect(await rooms.isPresent("dev", "ada")).toBe(true);
    expect(newsOf(api, "b")).toEqual(["dev:joined:ada"]);
  });

  it("shows the user gone when their only tab went between the decision to announce and the announcement", async () => {
    const { chat, api, rooms, hold, open, act, bobWatches } = await chatRoom();
    await bobWatches("dev");
    await open("a", "ada");
    const deciding = hold("after", "membershipsOf");
    const joining = act("a", { action: "join", room: "dev" });
    await deciding.reached;
    await chat.removeConnection("a", true); // a reload: $disconnect runs in full and announces the departure
    deciding.release();
    await joining;
    expect(await rooms.isPresent("dev", "ada")).toBe(false);
    // The arrival is sent last, but the departure asked later: it has the higher version, and bob's page knows.
    expect(newsOf(api, "b").filter((news) => news.startsWith("dev:"))).toEqual(["dev:left:ada", "dev:joined:ada"]);
    expect(onlineShown(api, "b", "dev")).toEqual(["bob"]);
    expect(onlineShown(api, "b", "dev", "reversed")).toEqual(["bob"]);
  });

  it("does not hold back for an earlier membership whose connection is gone, and drops it", async () => {
    const { api, connections, rooms, open, act, tick, bobWatches } = await chatRoom();
    await bobWatches("dev");
    await open("a1", "ada");
    await act("a1", { action: "join", room: "dev" });
    await connections.delete("a1"); // a clean-up that stopped after deleting the record
    tick(10);
    await open("a2", "ada");
    await act("a2", { action: "join", room: "dev" });
    expect(newsOf(api, "b")).toEqual(["dev:joined:ada", "dev:joined:ada"]);
    expect((await rooms.membershipsOf("dev", "ada")).map((m) => m.connectionId)).toEqual(["a2"]);
  });

  it("shows a user gone whose only tab closed while its join was dropping a stale membership", async () => {
    const { chat, api, connections, rooms, hold, open, act, tick, bobWatches } = await chatRoom();
    await bobWatches("dev");
    await open("s", "ada");
    await act("s", { action: "join", room: "dev" });
    await connections.delete("s"); // a clean-up that stopped after deleting the record
    tick(10);
    await open("a2", "ada");
    // a2's join has read ada's memberships (the stale one first) when its tab closes; $disconnect still sees the
    // stale membership, so it stays quiet, and the join drops it only afterwards.
    const read = hold("after", "membershipsOf");
    const joining = act("a2", { action: "join", room: "dev" });
    await read.reached;
    await chat.removeConnection("a2", true);
    read.release();
    await joining;
    expect(await rooms.isPresent("dev", "ada")).toBe(false);
    expect(onlineShown(api, "b", "dev")).toEqual(["bob"]);
    expect(onlineShown(api, "b", "dev", "reversed")).toEqual(["bob"]);
  });

  it("lets a leave that failed half-way be sent again", async () => {
    const { api, rooms, hooks, open, act } = await chatRoom();
    await open("a", "ada");
    await open("b", "bob");
    for (const id of ["a", "b"]) await act(id, { action: "join", room: "dev" });
    hooks.before.removeMember = () => {
      delete hooks.before.removeMember;
      throw Object.assign(new Error("throttled"), { name: "ProvisionedThroughputExceededException" });
    };
    await expect(act("a", { action: "leave", room: "dev" })).rejects.toThrow("throttled");
    await act("a", { action: "leave", room: "dev" });
    expect(await rooms.isPresent("dev", "ada")).toBe(false);
    expect(newsOf(api, "b")).toEqual(["dev:left:ada"]);
  });

  it("announces a tab that joins the lobby while another tab of the user has connected but not joined it", async () => {
    const { api, open, act } = await chatRoom();
    await open("b", "bob");
    await act("b", { action: "join", room: "lobby" });
    await open("a1", "ada"); // in the lobby since $connect; its page is still loading
    await open("a2", "ada");
    await act("a2", { action: "join", room: "lobby" });
    expect(newsOf(api, "b")).toEqual(["lobby:joined:ada"]);
  });

  it("leaves no membership behind when a join's write lands after $disconnect cleaned up", async () => {
    const { chat, api, rooms, hold, open, act, say, bobWatches } = await chatRoom();
    await bobWatches("dev");
    await open("a", "ada");
    const write = hold("before", "joinMember");
    const joining = act("a", { action: "join", room: "dev" });
    await write.reached; // the record lists the room; the membership is not written yet
    await chat.removeConnection("a", true);
    write.release();
    await joining;
    expect(await rooms.isPresent("dev", "ada")).toBe(false);
    await say("b", "anyone?", "dev");
    expect(api.of("a", "message")).toEqual([]);
    expect(newsOf(api, "b").filter((news) => news.endsWith("joined:ada"))).toEqual([]);
  });

  it("lets the room hear the user left when a repeated join's write lands inside $disconnect's clean-up", async () => {
    const { chat, api, rooms, hold, open, act } = await chatRoom();
    await open("b", "bob");
    await open("a", "ada");
    for (const id of ["b", "a"]) await act(id, { action: "join", room: "dev" });
    // The page joins again (a retry), while $disconnect runs: the join's write comes after $disconnect removed the
    // membership and before it asks whether ada is still in the room, so $disconnect stays quiet.
    const write = hold("before", "joinMember");
    const removed = hold("after", "removeMember", (room) => room === "dev");
    const asked = hold("before", "isPresent", (room) => room === "dev");
    const joining = act("a", { action: "join", room: "dev" });
    await write.reached;
    const disconnecting = chat.removeConnection("a", true);
    await removed.reached;
    write.release();
    const written = hold("after", "joinMember");
    await written.reached;
    removed.release();
    await asked.reached;
    asked.release();
    await disconnecting;
    written.release();
    await joining;
    expect(await rooms.isPresent("dev", "ada")).toBe(false);
    expect(newsOf(api, "b").at(-1)).toBe("dev:left:ada");
  });

  it("announces a departure that a clean-up stopped half-way left to the next broadcast", async () => {
    const { chat, api, rooms, hooks, open, act, say, tick } = await chatRoom();
    await open("b", "bob");
    await open("a", "ada");
    for (const id of ["b", "a"]) await act(id, { action: "join", room: "dev" });
    // $disconnect deletes the record, leaves the lobby, and dies before dev (say, the Lambda timed out).
    hooks.before.removeMember = (room) => {
      if (room !== "dev") return;
      delete hooks.before.removeMember;
      throw new Error("Task timed out");
    };
    await expect(chat.removeConnection("a", true)).rejects.toThrow("timed out");
    expect(newsOf(api, "b")).toEqual(["dev:joined:ada", "lobby:left:ada"]);
    api.gone.add("a");
    tick(30_000);
    await say("b", "still there?", "dev");
    expect(await rooms.isPresent("dev", "ada")).toBe(false);
    expect(newsOf(api, "b").at(-1)).toBe("dev:left:ada");
  });

  it("tells a join whose connection was removed meanwhile that it is no longer signed in, not that it has too many rooms", async () => {
    const { chat, hold, open, act } = await chatRoom();
    await open("a", "ada");
    const noting = hold("before", "addRoom");
    const joining = act("a", { action: "join", room: "dev" });
    await noting.reached;
    await chat.removeConnection("a", true);
    noting.release();
    await expect(joining).rejects.toMatchObject({ code: "unauthenticated" });
  });

  it("carries a refresh that ran during a join onto the new membership", async () => {
    const { rooms, hold, open, act } = await chatRoom();
    await open("a", "ada"); // its session ends an hour after the test clock's start
    const renewedUntil = 1_795_932_000 + 7200;
    const write = hold("before", "joinMember");
    const joining = act("a", { action: "join", room: "dev" });
    await write.reached;
    await act("a", { action: "refresh", token: `ada:${renewedUntil}` });
    write.release();
    await joining;
    const [member] = (await rooms.members("dev").next()).value ?? [];
    expect(member).toMatchObject({ connectionId: "a", expiresAt: renewedUntil });
  });

  it("keeps the later session end when two refreshes cross, and says so to both", async () => {
    const { api, connections, rooms, hold, open, act } = await chatRoom();
    await open("a", "ada");
    await act("a", { action: "join", room: "dev" });
    const [sooner, later] = [1_795_932_000 + 5400, 1_795_932_000 + 7200];
    // A slow renewal to the sooner end is overtaken by one to the later end (a retry with a newer token).
    const renewal = hold("before", "renew");
    const slow = act("a", { action: "refresh", token: `ada:${sooner}` });
    await renewal.reached;
    await act("a", { action: "refresh", token: `ada:${later}` });
    renewal.release();
    await slow;
    expect((await connections.get("a"))?.expiresAt).toBe(later);
    const [member] = (await rooms.members("dev").next()).value ?? [];
    expect(member?.expiresAt).toBe(later);
    expect(api.of("a", "refreshed").map((f) => f.expiresAt)).toEqual([later, later]);
  });

  it("carries a refresh onto a room joined between its read of the connection and its renewal", async () => {
    const { rooms, hold, open, act } = await chatRoom();
    await open("a", "ada");
    const renewedUntil = 1_795_932_000 + 7200;
    // The refresh read the record (the lobby only) and waits to renew; the whole join runs meanwhile.
    const renewal = hold("before", "renew");
    const refreshing = act("a", { action: "refresh", token: `ada:${renewedUntil}` });
    await renewal.reached;
    await act("a", { action: "join", room: "dev" });
    renewal.release();
    await refreshing;
    const [member] = (await rooms.members("dev").next()).value ?? [];
    expect(member).toMatchObject({ connectionId: "a", expiresAt: renewedUntil });
  });

  it("forgets a connection that turns out to be gone, and the room hears its user left", async () => {
    const { api, connections, open, act, say, tick } = await chatRoom();
    await open("a", "ada");
    await open("b", "bob");
    await act("a", { action: "join", room: "lobby" });
    api.gone.add("b");
    tick(30_000);
    await say("a", "still there?");
    expect(await connections.get("b")).toBeUndefined();
    expect(api.of("a", "left").map((f) => f.user.userId)).toEqual(["bob"]);
  });

  it("keeps a connection that answers 410 while its $connect may still be running", async () => {
    const { api, connections, open, say, tick } = await chatRoom();
    await open("a", "ada");
    await open("b", "bob");
    api.gone.add("b"); // API Gateway answers 410 until the socket is open
    tick(5_000);
    await say("a", "welcome");
    expect(await connections.get("b")).toBeDefined();
    expect(api.of("a", "left")).toEqual([]);
  });

  it("drops a membership whose connection record is already gone, so the room stops sending to it", async () => {
    const { api, rooms, open, say, tick } = await chatRoom();
    await open("a", "ada");
    // What a join racing $disconnect can leave behind: a membership without a connection record.
    await rooms.addMember({ room: "lobby", userId: "bob", connectionId: "orphan", expiresAt: 2e9, ttl: 2e9 });
    api.gone.add("orphan");
    tick(30_000);
    await say("a", "first");
    expect(await rooms.isPresent("lobby", "bob")).toBe(false);
  });
});
