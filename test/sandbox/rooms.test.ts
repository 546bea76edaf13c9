import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type {
  ChatUser,
  ErrorFrame,
  HistoryFrame,
  MessageFrame,
  PresenceChangeFrame,
  PresenceFrame,
} from "../../core/protocol.js";
import { type ChatClient, connectAs, flushDeliveries, startTestSandbox, type TestSandbox } from "../support/sandbox.js";

// Rooms, history and presence end to end (docs/PROTOCOL.md): real ws clients, the real handlers, dynalite.

type Frame = { type?: string; room?: string };
const ofType =
  <T extends Frame>(type: string, room: string) =>
  (frame: unknown): frame is T =>
    (frame as Frame).type === type && (frame as Frame).room === room;
const isMessage = (room: string, text: string) => (frame: unknown) =>
  ofType<MessageFrame>("message", room)(frame) && frame.text === text;
const texts = (messages: readonly MessageFrame[]) => messages.map((message) => message.text);
const messagesIn = (client: ChatClient, room: string) => client.framesWhere<MessageFrame>(ofType("message", room));
const presenceChanges = (client: ChatClient, room: string, type: "joined" | "left") =>
  client.framesWhere<PresenceChangeFrame>(ofType(type, room)).map((frame) => frame.user.userId);
const userIds = (users: readonly ChatUser[]) => users.map((user) => user.userId).sort();

/** The first frame matching `match` that arrives from now on (earlier frames do not count). */
function next<T>(client: ChatClient, match: (frame: unknown) => boolean, timeoutMs?: number): Promise<T> {
  const from = client.frames.length;
  return client.waitFor<T>((frame) => match(frame) && client.frames.indexOf(frame) >= from, timeoutMs);
}

/** Joins `room` and collects the answer: the history (however many frames it came in) and the presence list. */
async function join(client: ChatClient, room: string, after?: string) {
  const from = client.frames.length;
  client.send({ action: "join", room, ...(after === undefined ? {} : { after }) });
  // Both answers go to this connection one after the other, so the history frames are in before the presence frame.
  const presence = await next<PresenceFrame>(client, ofType("presence", room));
  const history = client.frames.slice(from).filter(ofType<HistoryFrame>("history", room));
  return {
    messages: history.flatMap((frame) => frame.messages),
    hasMore: history.at(-1)?.hasMore,
    users: presence.users,
  };
}

/** Sends `text` to `room` and waits for the sender's own copy, which carries the message id. */
async function say(client: ChatClient, room: string, text: string): Promise<MessageFrame> {
  const echo = next<MessageFrame>(client, isMessage(room, text));
  client.send({ action: "sendmessage", room, text });
  return echo;
}

describe("rooms, history and presence through the sandbox", () => {
  let sandbox: TestSandbox;
  beforeAll(async () => {
    // Generous rate limits: these tests send dozens of messages from one connection.
    sandbox = await startTestSandbox({ handlerEnv: { MESSAGE_BURST: "1000", MESSAGES_PER_SECOND: "1000" } });
  });
  afterAll(() => sandbox.close());

  it("tells the page the rate limit the handlers enforce, so that it paces its rejoins by it", async () => {
    expect(await (await fetch(sandbox.urls.config)).json()).toMatchObject({
      rateLimit: { burst: 1000, perSecond: 1000 },
    });
  });

  it("delivers a room's messages to its members only, and stops when a member leaves", async () => {
    const [carol, dave, erin] = [
      await connectAs(sandbox, "carol"),
      await connectAs(sandbox, "dave"),
      await connectAs(sandbox, "erin"),
    ];
    await join(carol, "design");
    await join(dave, "design");

    await say(carol, "design", "design only");
    await dave.waitFor(isMessage("design", "design only"));
    await say(erin, "lobby", "lobby for all");
    await Promise.all([carol, dave].map((client) => client.waitFor(isMessage("lobby", "lobby for all"))));

    const left = next<PresenceChangeFrame>(carol, ofType("left", "design"));
    dave.send({ action: "leave", room: "design" });
    expect((await left).user).toEqual({ userId: dave.userId, name: "dave" });
    await say(carol, "design", "after dave left");
    await flushDeliveries(sandbox, [carol, dave, erin]);

    expect(texts(messagesIn(carol, "design"))).toEqual(["design only", "after dave left"]);
    expect(texts(messagesIn(dave, "design"))).toEqual(["design only"]);
    expect(messagesIn(erin, "design")).toEqual([]);
    for (const client of [carol, dave, erin]) expect(texts(messagesIn(client, "lobby"))).toEqual(["lobby for all"]);
    await Promise.all([carol, dave, erin].map((client) => client.close()));
  });

  it("refuses to send to, read or leave a room the connection is not in, and names that aren't rooms", async () => {
    const finn = await connectAs(sandbox, "finn");
    const cases: [Record<string, unknown>, string, string | undefined][] = [
      [{ action: "sendmessage", room: "secret", text: "let me in" }, "not_a_member", "secret"],
      [{ action: "history", room: "secret", before: "000000000002" }, "not_a_member", "secret"],
      [{ action: "leave", room: "secret" }, "not_a_member", "secret"],
      [{ action: "join", room: "Not A Room" }, "invalid_room", undefined],
      [{ action: "history", room: "lobby", before: "yesterday" }, "invalid_cursor", undefined],
    ];
    for (const [frame, code, room] of cases) {
      const error = next<ErrorFrame>(finn, (received) => (received as ErrorFrame).type === "error");
      finn.send(frame);
      expect(await error).toMatchObject({ code, ...(room === undefined ? {} : { room }) });
    }
    expect(finn.isOpen).toBe(true);
    await finn.close();
  });

  it("sends the latest 50 messages on join, and older ones on a history request with before", async () => {
    const gus = await connectAs(sandbox, "gus");
    await join(gus, "archive");
    const sent: MessageFrame[] = [];
    for (let n = 1; n <= 55; n++) sent.push(await say(gus, "archive", `m${n}`));
    const ids = sent.map((message) => message.id);
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(55);

    const hana = await connectAs(sandbox, "hana");
    const latest = await join(hana, "archive");
    expect(texts(latest.messages)).toEqual(texts(sent.slice(5)));
    expect(latest.messages).toEqual(sent.slice(5));
    expect(latest.hasMore).toBe(true);

    const older = next<HistoryFrame>(hana, ofType("history", "archive"));
    hana.send({ action: "history", room: "archive", before: latest.messages[0]?.id });
    expect(await older).toEqual({ type: "history", room: "archive", messages: sent.slice(0, 5), hasMore: false });
    await Promise.all([gus.close(), hana.close()]);
  });

  it("lists who is online to a joiner, and tells the room who joined and who left", async () => {
    const [ike, jo] = [await connectAs(sandbox, "ike"), await connectAs(sandbox, "jo")];
    expect((await join(ike, "garden")).users).toEqual([{ userId: ike.userId, name: "ike" }]);

    const joined = next<PresenceChangeFrame>(ike, ofType("joined", "garden"));
    const joPresence = await join(jo, "garden");
    expect(userIds(joPresence.users)).toEqual([ike.userId, jo.userId].sort());
    expect((await joined).user).toEqual({ userId: jo.userId, name: "jo" });

    // Closing the socket is leaving too: `$disconnect` tells the room.
    const left = next<PresenceChangeFrame>(ike, ofType("left", "garden"));
    await jo.close();
    expect((await left).user).toEqual({ userId: jo.userId, name: "jo" });
    await flushDeliveries(sandbox, [ike]);
    expect(presenceChanges(ike, "garden", "joined")).toEqual([jo.userId]);
    expect(presenceChanges(ike, "garden", "left")).toEqual([jo.userId]);
    await ike.close();
  });

  it("counts a user with two tabs once, and as offline only when the last tab closes", async () => {
    const kai = await connectAs(sandbox, "kai");
    await join(kai, "kitchen");
    const tab1 = await connectAs(sandbox, "lou");
    const tab2 = await connectAs(sandbox, "lou");
    expect(tab2.userId).toBe(tab1.userId);
    expect(tab2.connectionId).not.toBe(tab1.connectionId);

    await join(tab1, "kitchen");
    const second = await join(tab2, "kitchen");
    expect(userIds(second.users)).toEqual([kai.userId, tab1.userId].sort());
    const tab1Ended = sandbox.hooks.whenEnded(tab1.connectionId);
    await tab1.close();
    await tab1Ended;
    await flushDeliveries(sandbox, [kai, tab2]);
    expect(presenceChanges(kai, "kitchen", "joined")).toEqual([tab1.userId]);
    expect(presenceChanges(kai, "kitchen", "left")).toEqual([]);

    const left = next<PresenceChangeFrame>(kai, ofType("left", "kitchen"));
    await tab2.close();
    expect((await left).user.userId).toBe(tab1.userId);
    await flushDeliveries(sandbox, [kai]);
    expect(presenceChanges(kai, "kitchen", "left")).toEqual([tab1.userId]);
    expect(userIds((await join(kai, "kitchen")).users)).toEqual([kai.userId]);
    await kai.close();
  });
});

// Issue 7: a client dropped mid-conversation catches up after reconnecting, with nothing lost and nothing twice.
describe("reconnecting after a dropped connection", () => {
  let sandbox: TestSandbox;
  beforeAll(async () => {
    sandbox = await startTestSandbox({ handlerEnv: { MESSAGE_BURST: "100" } });
  });
  afterAll(() => sandbox.close());

  it("ends with every lobby message, in order, without duplicates", async () => {
    const lea = await connectAs(sandbox, "lea");
    const max = await connectAs(sandbox, "max");
    await join(lea, "lobby");
    await join(max, "lobby");
    const conversation = [
      "1 hi",
      "2 how are you",
      "3 fine",
      "4 gone quiet?",
      "5 hello?",
      "6 welcome back",
      "7 bye",
    ] as const;
    const [one, two, three, four, five, six, seven] = conversation;

    for (const text of [one, two, three]) {
      await say(max, "lobby", text);
      await lea.waitFor(isMessage("lobby", text));
    }
    const seen = messagesIn(lea, "lobby");
    const lastSeen = seen.at(-1)?.id;

    // The phone loses signal: no close frame, and no `$disconnect` yet. The conversation goes on.
    expect(sandbox.hooks.dropConnection(lea.connectionId)).toBe(true);
    expect((await lea.closed).code).toBe(1006);
    for (const text of [four, five]) await say(max, "lobby", text);

    const again = await connectAs(sandbox, "lea");
    expect(again.userId).toBe(lea.userId);
    expect(again.connectionId).not.toBe(lea.connectionId);
    const caughtUp = await join(again, "lobby", lastSeen);
    expect(caughtUp.hasMore).toBe(false);
    for (const text of [six, seven]) {
      await say(max, "lobby", text);
      await again.waitFor(isMessage("lobby", text));
    }
    await flushDeliveries(sandbox, [again, max]);

    // What the client holds: the old socket's messages, the catch-up history, the new socket's messages.
    const everything = [...seen, ...caughtUp.messages, ...messagesIn(again, "lobby")];
    expect(texts(everything)).toEqual(conversation);
    const ids = everything.map((message) => message.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
    expect(texts(messagesIn(max, "lobby"))).toEqual(conversation);
    await Promise.all([again.close(), max.close()]);
  });
});
