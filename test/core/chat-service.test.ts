import { describe, expect, it } from "vitest";
import { ChatService } from "../../core/chat-service.js";
import { type ClientRequest, parseClientRequest } from "../../core/client-request.js";
import { InvalidRequestError } from "../../core/errors.js";
import { createConnectHandler } from "../../core/handlers/connect.js";
import { Logger } from "../../core/logger.js";
import type { RoomStore } from "../../core/room-store.js";
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
  // Hooks into the room store, to line up what concurrent Lambdas would do, or to fail a write.
  const hooks: {
    beforeJoinWrite?: () => Promise<void>;
    afterJoinWrite?: () => Promise<void>;
    failNextRemove?: boolean;
  } = {};
  const hookedRooms: RoomStore = Object.create(rooms);
  hookedRooms.joinMember = async (member) => {
    await hooks.beforeJoinWrite?.();
    const joinedAt = await rooms.joinMember(member);
    await hooks.afterJoinWrite?.();
    return joinedAt;
  };
  hookedRooms.removeMember = async (...args) => {
    if (hooks.failNextRemove) {
      hooks.failNextRemove = false;
      throw Object.assign(new Error("throttled"), { name: "ProvisionedThroughputExceededException" });
    }
    return rooms.removeMember(...args);
  };
  const chat = new ChatService({
    connections,
    rooms: hookedRooms,
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
  /** Holds the next join's membership write until `release`; `reached` once the join is waiting there. */
  const holdJoinWrite = () => {
    let reachedIt = () => {};
    let release = () => {};
    const reached = new Promise<void>((resolve) => (reachedIt = resolve));
    const released = new Promise<void>((resolve) => (release = resolve));
    hooks.beforeJoinWrite = () => {
      hooks.beforeJoinWrite = undefined;
      reachedIt();
      return released;
    };
    return { reached, release };
  };
  return { chat, api, connections, rooms, hooks, holdJoinWrite, open, act, say, tick: (ms: number) => (now += ms) };
}

const texts = (frames: { text: string }[]) => frames.map((f) => f.text);

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
    const { api, open, act, say } = await chatRoom();
    await open("a", "ada");
    await open("b", "bob");
    await act("b", { action: "join", room: "dev" });
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
    const { api, open, act } = await chatRoom();
    await open("a1", "ada");
    await open("a2", "ada");
    await act("a1", { action: "join", room: "dev" });
    await act("a2", { action: "join", room: "dev" });
    await open("b", "bob");
    await act("b", { action: "join", room: "dev" });
    expect(
      api
        .of("b", "presence")[0]
        ?.users.map((u) => u.userId)
        .sort(),
    ).toEqual(["ada", "bob"]);
    expect(api.of("a1", "joined").map((f) => f.user.userId)).toEqual(["bob"]);
    // ada's second tab was not news to the room
    expect(api.of("b", "joined")).toEqual([]);
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
    const { api, hooks, open, act, tick } = await chatRoom();
    await open("b", "bob");
    await act("b", { action: "join", room: "dev" });
    await open("a1", "ada");
    tick(1);
    await open("a2", "ada");
    // Both memberships are written before either join goes on, as two Lambdas at once may do.
    let written = 0;
    let bothWritten = () => {};
    const both = new Promise<void>((resolve) => (bothWritten = resolve));
    hooks.afterJoinWrite = () => {
      if (++written === 2) bothWritten();
      return both;
    };
    await Promise.all([act("a1", { action: "join", room: "dev" }), act("a2", { action: "join", room: "dev" })]);
    expect(api.of("b", "joined").map((f) => f.user.userId)).toEqual(["ada"]);
  });

  it("leaves the room seeing a user who left in one tab while joining in another", async () => {
    const { api, holdJoinWrite, open, act } = await chatRoom();
    await open("b", "bob");
    await open("a1", "ada");
    await open("a2", "ada");
    for (const id of ["b", "a1"]) await act(id, { action: "join", room: "dev" });
    // a2's membership lands only after a1 has left and found no other tab of ada's in the room.
    const hold = holdJoinWrite();
    const joining = act("a2", { action: "join", room: "dev" });
    await hold.reached;
    await act("a1", { action: "leave", room: "dev" });
    hold.release();
    await joining;
    const news = (api.frames.get("b") ?? []).filter((f) => f.type === "joined" || f.type === "left");
    expect(news.map((f) => f.type).at(-1)).toBe("joined");
  });

  it("lets a leave that failed half-way be sent again", async () => {
    const { api, rooms, hooks, open, act } = await chatRoom();
    await open("a", "ada");
    await open("b", "bob");
    for (const id of ["a", "b"]) await act(id, { action: "join", room: "dev" });
    hooks.failNextRemove = true;
    await expect(act("a", { action: "leave", room: "dev" })).rejects.toThrow("throttled");
    await act("a", { action: "leave", room: "dev" });
    expect(await rooms.isPresent("dev", "ada")).toBe(false);
    expect(api.of("b", "left").map((f) => [f.room, f.user.userId])).toEqual([["dev", "ada"]]);
  });

  it("announces a tab that joins the lobby while another tab of the user has connected but not joined it", async () => {
    const { api, open, act } = await chatRoom();
    await open("b", "bob");
    await act("b", { action: "join", room: "lobby" });
    await open("a1", "ada"); // in the lobby since $connect; its page is still loading
    await open("a2", "ada");
    await act("a2", { action: "join", room: "lobby" });
    expect(api.of("b", "joined").map((f) => f.user.userId)).toEqual(["ada"]);
  });

  it("leaves no membership behind when a join's write lands after $disconnect cleaned up", async () => {
    const { chat, api, rooms, holdJoinWrite, open, act, say } = await chatRoom();
    await open("b", "bob");
    await act("b", { action: "join", room: "dev" });
    await open("a", "ada");
    const hold = holdJoinWrite();
    const joining = act("a", { action: "join", room: "dev" });
    await hold.reached; // the record lists the room; the membership is not written yet
    await chat.removeConnection("a", true);
    hold.release();
    await joining;
    expect(await rooms.isPresent("dev", "ada")).toBe(false);
    await say("b", "anyone?", "dev");
    expect(api.of("a", "message")).toEqual([]);
    expect(api.of("b", "joined")).toEqual([]);
  });

  it("carries a refresh that ran during a join onto the new membership", async () => {
    const { rooms, holdJoinWrite, open, act } = await chatRoom();
    await open("a", "ada"); // its session ends an hour after the test clock's start
    const renewedUntil = 1_795_932_000 + 7200;
    const hold = holdJoinWrite();
    const joining = act("a", { action: "join", room: "dev" });
    await hold.reached;
    await act("a", { action: "refresh", token: `ada:${renewedUntil}` });
    hold.release();
    await joining;
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
