import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ErrorFrame, HistoryFrame, MessageFrame, PresenceChangeFrame } from "../../core/protocol.js";
import { devUserId } from "../../sandbox/dev-auth.js";
import { PAST_CONNECT_GRACE_MS, testClock } from "../support/clock.js";
import { deferred } from "../support/deferred.js";
import {
  connectAs,
  connectionIdOf,
  connectionRecords,
  flushDeliveries,
  isMessageFrame,
  startTestSandbox,
  type TestSandbox,
} from "../support/sandbox.js";

// The chat end to end through the sandbox: real ws clients, the real handlers, dynalite.
const isMessage = (text: string) => (frame: unknown) =>
  (frame as MessageFrame).type === "message" && (frame as MessageFrame).text === text;
const isError = (frame: unknown) => (frame as ErrorFrame).type === "error";

describe("chat through the sandbox", () => {
  let sandbox: TestSandbox;
  const time = testClock();
  beforeAll(async () => {
    sandbox = await startTestSandbox({ clock: time.clock });
  });
  afterAll(() => sandbox.close());

  it("delivers a message exactly once to every client, naming the sender from the token", async () => {
    const clients = await Promise.all(["alice", "bob", "carol"].map((name) => connectAs(sandbox, name)));
    const [alice] = clients as [(typeof clients)[number]];

    alice.send({ action: "sendmessage", text: "hello, all" });

    const received = await Promise.all(clients.map((client) => client.waitFor<MessageFrame>(isMessage("hello, all"))));
    for (const frame of received) {
      expect(frame).toMatchObject({ type: "message", sender: { userId: alice.userId, name: "alice" } });
    }
    expect(new Set(received.map((frame) => frame.id)).size).toBe(1);
    await flushDeliveries(sandbox, clients);
    for (const client of clients) expect(client.framesWhere(isMessageFrame)).toHaveLength(1);
    await Promise.all(clients.map((client) => client.close()));
  });

  it("removes the record of a client that closes", async () => {
    const dave = await connectAs(sandbox, "dave");
    const id = connectionIdOf(sandbox, dave.userId);
    expect((await connectionRecords(sandbox)).find((record) => record.connectionId === id)).toMatchObject({
      userId: dave.userId,
      name: "dave",
    });

    const ended = sandbox.hooks.whenEnded(id);
    expect(await dave.close(1000, "bye")).toEqual({ code: 1000, reason: "bye" });
    expect(await ended).toMatchObject({ code: 1000, reason: "bye", cause: "client" });

    expect((await connectionRecords(sandbox)).map((record) => record.connectionId)).not.toContain(id);
    expect(sandbox.logLines.some((line) => line.includes("disconnect") && line.includes(id))).toBe(true);
  });

  it("runs $disconnect for a client whose TCP connection is cut without a close frame", async () => {
    const erin = await connectAs(sandbox, "erin");
    const id = connectionIdOf(sandbox, erin.userId);
    const ended = sandbox.hooks.whenEnded(id);

    await erin.terminate();

    expect(await ended).toMatchObject({ code: 1006, cause: "client" });
    expect((await connectionRecords(sandbox)).map((record) => record.connectionId)).not.toContain(id);
  });

  it("cleans up a client that vanished unnoticed (no $disconnect) on the next broadcast, via 410", async () => {
    const frank = await connectAs(sandbox, "frank");
    const gina = await connectAs(sandbox, "gina");
    const ginaId = connectionIdOf(sandbox, gina.userId);

    expect(sandbox.hooks.dropConnection(ginaId)).toBe(true);
    expect((await gina.closed).code).toBe(1006);
    // No $disconnect ran: the record is stale, as on AWS when $disconnect is missed.
    expect((await connectionRecords(sandbox)).map((record) => record.connectionId)).toContain(ginaId);
    // A 410 from a connection younger than API Gateway's integration timeout may be one still in `$connect`.
    time.advance(PAST_CONNECT_GRACE_MS);

    frank.send({ action: "sendmessage", text: "anyone there?" });
    await frank.waitFor(isMessage("anyone there?"));
    await sandbox.hooks.idle();

    expect((await connectionRecords(sandbox)).map((record) => record.connectionId)).not.toContain(ginaId);
    expect(sandbox.logLines.some((line) => /message .*gone 1/.test(line))).toBe(true);
    await frank.close();
  });

  it("answers bad frames with an error frame to the sender only", async () => {
    const hank = await connectAs(sandbox, "hank");
    const ivy = await connectAs(sandbox, "ivy");
    const cases: [unknown, string][] = [
      ["this is not json", "invalid_json"],
      [{ action: "dance" }, "unknown_action"],
      [{ text: "no action" }, "unknown_action"],
      [{ action: "sendmessage", text: "   " }, "invalid_text"],
      [{ action: "sendmessage", text: "x".repeat(2001) }, "text_too_long"],
    ];
    // Each frame is sent once the previous one's answer is in: the answers come in order, each counted once.
    const answers = (count: number) => hank.waitFor(() => hank.framesWhere(isError).length >= count);
    for (const [i, [frame]] of cases.entries()) {
      hank.send(frame);
      await answers(i + 1);
    }
    // A binary frame has no route selection value: `$default`, and not JSON to the handler.
    hank.socket.send(Buffer.from([0xff, 0x00, 0x01]));
    await answers(cases.length + 1);
    await flushDeliveries(sandbox, [hank, ivy]);

    expect(hank.framesWhere<ErrorFrame>(isError).map((frame) => frame.code)).toEqual([
      ...cases.map(([, code]) => code),
      "invalid_json",
    ]);
    expect(ivy.framesWhere(isError)).toEqual([]);
    expect(ivy.framesWhere(isMessageFrame)).toEqual([]);
    expect(hank.isOpen).toBe(true);
    await Promise.all([hank.close(), ivy.close()]);
  });

  it("closes a socket with 1009 on a frame over 32 KB, as API Gateway does, and accepts one of exactly 32 KB", async () => {
    const jack = await connectAs(sandbox, "jack");
    const id = connectionIdOf(sandbox, jack.userId);
    const atLimit = JSON.stringify({ action: "sendmessage", text: "" }).length;
    jack.send(JSON.stringify({ action: "sendmessage", text: "y".repeat(32 * 1024 - atLimit) }));
    await jack.waitFor((frame) => (frame as ErrorFrame).code === "text_too_long");
    expect(jack.isOpen).toBe(true);

    const ended = sandbox.hooks.whenEnded(id);
    jack.send("z".repeat(32 * 1024 + 1));

    expect((await jack.closed).code).toBe(1009);
    expect(await ended).toMatchObject({ code: 1009, cause: "oversize" });
    expect((await connectionRecords(sandbox)).map((record) => record.connectionId)).not.toContain(id);
  });

  it("never writes a token to the log", async () => {
    expect(sandbox.logLines.length).toBeGreaterThan(0);
    expect(sandbox.logLines.join("\n")).not.toMatch(/eyJ[\w-]+\.[\w-]+/);
  });
});

// API Gateway answers 410 for a connection whose `$connect` is still running: a broadcast in that window must not
// clean up the connection that is about to open.
describe("a 410 from a connection still in $connect", () => {
  it("keeps it: the socket opens a moment later, in the lobby, and its history has what it missed", async () => {
    const slowUser = devUserId("ben");
    const written = deferred();
    const release = deferred();
    const broadcast = deferred();
    const sandbox = await startTestSandbox({
      handlers: (real) => ({
        // The real `$connect` (record and lobby membership written), then held before the socket may open.
        connect: async (event) => {
          const result = await real.connect(event);
          if (event.requestContext.authorizer?.userId === slowUser) {
            written.resolve();
            await release.promise;
          }
          return result;
        },
      }),
      onInvoke: (invocation) => {
        if (invocation.handler === "route" && invocation.routeKey === "sendmessage") broadcast.resolve();
      },
    });
    try {
      const ann = await connectAs(sandbox, "ann");
      const benConnecting = connectAs(sandbox, "ben");
      await written.promise;
      const [benRecord] = (await connectionRecords(sandbox)).filter((record) => record.userId === slowUser);
      if (!benRecord) throw new Error("ben's $connect wrote no record");

      ann.send({ action: "sendmessage", text: "while ben connects" });
      await ann.waitFor(isMessage("while ben connects"));
      await broadcast.promise;
      expect(sandbox.logLines.some((line) => /message .*delivered 1, gone 1/.test(line))).toBe(true);
      expect((await connectionRecords(sandbox)).map((record) => record.connectionId)).toContain(benRecord.connectionId);

      release.resolve();
      const ben = await benConnecting;
      expect(ben.connectionId).toBe(benRecord.connectionId);
      ben.send({ action: "join", room: "lobby" });
      const history = await ben.waitFor<HistoryFrame>((frame) => (frame as HistoryFrame).type === "history");
      expect(history.messages.map((message) => message.text)).toEqual(["while ben connects"]);
      ann.send({ action: "sendmessage", text: "ben is here" });
      await ben.waitFor(isMessage("ben is here"));
      await flushDeliveries(sandbox, [ann, ben]);
      // Nobody was told that ben left.
      expect(ann.framesWhere((frame) => (frame as PresenceChangeFrame).type === "left")).toEqual([]);
    } finally {
      release.resolve();
      await sandbox.close();
    }
  });
});

describe("connection limits", () => {
  it("closes a connection that stays idle past the idle timeout", async () => {
    const sandbox = await startTestSandbox({ gateway: { idleTimeoutMs: 300 } });
    try {
      const kim = await connectAs(sandbox, "kim");
      const id = connectionIdOf(sandbox, kim.userId);
      const ended = sandbox.hooks.whenEnded(id);
      const started = Date.now();

      expect((await kim.closed).code).toBe(1001);
      expect(await ended).toMatchObject({ code: 1001, cause: "idle" });
      expect(Date.now() - started).toBeGreaterThanOrEqual(250);
      expect(await connectionRecords(sandbox)).toEqual([]);
    } finally {
      await sandbox.close();
    }
  });

  it("closes a busy connection at its maximum age", async () => {
    const sandbox = await startTestSandbox({
      gateway: { maxConnectionAgeMs: 400 },
      handlerEnv: { MESSAGE_BURST: "100" },
    });
    try {
      const lee = await connectAs(sandbox, "lee");
      const ended = sandbox.hooks.whenEnded(connectionIdOf(sandbox, lee.userId));
      // Activity keeps the idle timer fresh, but does not extend the maximum age.
      const chatter = setInterval(() => lee.isOpen && lee.send({ action: "sendmessage", text: "still here" }), 50);
      try {
        expect(await ended).toMatchObject({ code: 1001, cause: "max-age" });
      } finally {
        clearInterval(chatter);
      }
      expect((await lee.closed).code).toBe(1001);
    } finally {
      await sandbox.close();
    }
  });

  it("works when message events carry no authorizer context (the handlers read the record)", async () => {
    const sandbox = await startTestSandbox({ gateway: { forwardAuthorizerContext: false } });
    try {
      const [mia, ned] = [await connectAs(sandbox, "mia"), await connectAs(sandbox, "ned")];
      mia.send({ action: "sendmessage", text: "no context" });
      expect(await ned.waitFor(isMessage("no context"))).toMatchObject({ sender: { userId: mia.userId, name: "mia" } });
    } finally {
      await sandbox.close();
    }
  });
});
