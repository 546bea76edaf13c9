import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { HistoryFrame, MessageFrame, PresenceChangeFrame } from "../../core/protocol.js";
import { JWKS_FAILURE_COOLDOWN_MS } from "../../core/token-verifier.js";
import { PAST_CONNECT_GRACE_MS, testClock } from "../support/clock.js";
import {
  type ChatClient,
  connectAs,
  connectionRecords,
  flushDeliveries,
  isMessageFrame,
  isRefreshed,
  startTestSandbox,
  type TestSandbox,
} from "../support/sandbox.js";
import { startTokenIssuer, type TokenIssuer } from "../support/token-issuer.js";
import { HandshakeRefused, openClient, type TestClient } from "../support/ws-client.js";
import {
  closeAndSettle,
  isErrorWith,
  isMessageWith,
  jsonEntries,
  roomItems,
  type SecuritySandbox,
  startSecuritySandbox,
} from "./security-sandbox.js";
import { fakeWallClock } from "./wall-clock.js";

// Faults injected in the real path: the sandbox's management API answering 410/429/500 to chosen connections
// during a broadcast, a DynamoDB endpoint that throttles, and the JWKS going down under open connections. Healthy
// connections get every message exactly once, gone ones are removed, and nothing crashes.

type Client = TestClient & { userId: string };

const textsOf = (client: Client) => client.framesWhere<MessageFrame>(isMessageFrame).map((frame) => frame.text);
/** API Gateway's own error frame, sent when a route's integration failed (a crash, from the client's side). */
const isGatewayError = (frame: unknown) =>
  (frame as { type?: unknown }).type === undefined && typeof (frame as { message?: unknown }).message === "string";
/** The sandbox's lines about an integration that threw or timed out. */
const crashLines = (sandbox: TestSandbox) => sandbox.logLines.filter((line) => /ERROR +\S+ failed +conn/.test(line));

describe("a broadcast that meets 410, 429 and 500", () => {
  let sandbox: TestSandbox;
  /** The sandbox's clock (gateway, handlers, issuer): jumps ahead of the real one. */
  const time = testClock();
  beforeAll(async () => {
    sandbox = await startTestSandbox({ clock: time.clock });
  });
  afterAll(() => sandbox.close());

  it("delivers once to every healthy connection, retries the throttled, removes the gone, keeps the rest", async () => {
    const [sam, hana, hugo, tess, bram, gwen] = await Promise.all([
      connectAs(sandbox, "sam"),
      connectAs(sandbox, "hana"),
      connectAs(sandbox, "hugo"),
      connectAs(sandbox, "tess"),
      connectAs(sandbox, "bram"),
      connectAs(sandbox, "gwen"),
    ]);
    time.advance(PAST_CONNECT_GRACE_MS); // all of them are past `$connect` by any measure
    const yuri = await connectAs(sandbox, "yuri"); // ... but this one has just connected
    const [tessId, bramId, gwenId, yuriId] = [
      tess.connectionId,
      bram.connectionId,
      gwen.connectionId,
      yuri.connectionId,
    ];

    // Aimed at the chat frame: gwen's departure is announced by a broadcast that runs alongside this one.
    sandbox.hooks.faults.add({
      connectionIds: [tessId],
      methods: ["POST"],
      payload: (data) => data.includes("through the storm"),
      status: 429,
      times: 2,
    });
    const unbreak = sandbox.hooks.faults.add({
      connectionIds: [bramId],
      methods: ["POST"],
      payload: (data) => data.includes("through the storm"),
      status: 500,
      times: 1,
    });
    sandbox.hooks.faults.add({ connectionIds: [gwenId, yuriId], methods: ["POST"], status: 410 });

    sam.send({ action: "sendmessage", text: "through the storm" });
    await sam.waitFor(isMessageWith("through the storm"));
    await sandbox.hooks.idle();

    // bram's send failed with a 500: it is made again a second later, through the fan-out queue.
    const reached = [sam, hana, hugo, tess, bram];
    await flushDeliveries(sandbox, reached);
    for (const client of reached) expect(textsOf(client), client.userId).toEqual(["through the storm"]);
    for (const client of [gwen, yuri]) expect(textsOf(client)).toEqual([]);
    expect(sandbox.logLines).toContainEqual(
      expect.stringMatching(/message +from .* delivered 4, gone 2, failed 1, retries 2, resent 1$/),
    );

    const records = (await connectionRecords(sandbox)).map((record) => record.connectionId);
    expect(records, "a gone connection is removed").not.toContain(gwenId);
    expect(records, "a 410 within the $connect grace period removes nothing").toContain(yuriId);
    expect(records, "a 500 is not a gone connection").toContain(bramId);
    const members = (await roomItems(sandbox, "member#")).map((item) => item.connectionId);
    expect(members).not.toContain(gwenId);
    expect(members).toEqual(expect.arrayContaining([yuriId, bramId]));
    // The room hears that the gone user left.
    await hana.waitFor((frame) => (frame as PresenceChangeFrame).type === "left");
    expect(hana.framesWhere<PresenceChangeFrame>((frame) => (frame as PresenceChangeFrame).type === "left")).toEqual([
      { type: "left", room: "lobby", user: { userId: gwen.userId, name: "gwen" }, version: expect.any(Number) },
    ]);

    // Once the faults pass, the next message reaches everyone still in the room, once.
    unbreak();
    sandbox.hooks.faults.clear();
    hana.send({ action: "sendmessage", text: "after the storm" });
    await hana.waitFor(isMessageWith("after the storm"));
    const remaining = [sam, hana, hugo, tess, bram, yuri];
    await flushDeliveries(sandbox, remaining);
    for (const client of remaining) {
      expect(client.framesWhere(isMessageWith("after the storm")), client.userId).toHaveLength(1);
    }
    expect(gwen.framesWhere(isMessageWith("after the storm"))).toEqual([]);

    for (const client of [...remaining, gwen]) expect(client.framesWhere(isGatewayError)).toEqual([]);
    expect(crashLines(sandbox)).toEqual([]);
    await Promise.all([...remaining, gwen].map((client) => client.close()));
  });
});

describe("DynamoDB throttling", () => {
  let sandbox: TestSandbox;
  let clients: Client[] = [];
  beforeAll(async () => {
    sandbox = await startTestSandbox({ injectDynamoFaults: true, handlerEnv: { MESSAGE_BURST: "100" } });
  });
  afterEach(async () => {
    sandbox.hooks.dynamoFaults?.clear();
    await Promise.all(clients.filter((client) => client.isOpen).map((client) => closeAndSettle(sandbox, client)));
    clients = [];
  });
  afterAll(() => sandbox.close());

  const faults = () => {
    const dynamoFaults = sandbox.hooks.dynamoFaults;
    if (!dynamoFaults) throw new Error("the sandbox was started without injectDynamoFaults");
    return dynamoFaults;
  };
  async function connect(name: string): Promise<ChatClient> {
    const client = await connectAs(sandbox, name);
    clients.push(client);
    return client;
  }

  it("rides out brief throttles on Query, PutItem and UpdateItem: the SDK retries, every message arrives once", async () => {
    const [ula, vic, wyn] = await Promise.all([connect("ula"), connect("vic"), connect("wyn")]);
    for (const operation of ["Query", "PutItem", "UpdateItem"]) {
      faults().add({ operations: [operation], error: "ProvisionedThroughputExceededException", times: 2 });
    }

    ula.send({ action: "sendmessage", text: "despite throttling" });

    await Promise.all([ula, vic, wyn].map((client) => client.waitFor(isMessageWith("despite throttling"), 15_000)));
    await flushDeliveries(sandbox, [ula, vic, wyn]);
    for (const client of [ula, vic, wyn]) expect(textsOf(client)).toEqual(["despite throttling"]);
    expect(ula.framesWhere(isErrorWith("internal_error"))).toEqual([]);
    expect(crashLines(sandbox)).toEqual([]);
  });

  it.each([
    ["PutItem", "storing the message"],
    ["UpdateItem", "taking a rate-limit token"],
    ["GetItem", "reading the connection"],
  ])(
    "answers internal_error to the sender when %s stays throttled (%s), and carries on once it passes",
    async (operation) => {
      const [xan, yve] = await Promise.all([connect(`xan-${operation}`), connect(`yve-${operation}`)]);
      const stop = faults().add({ operations: [operation], error: "ProvisionedThroughputExceededException" });

      xan.send({ action: "sendmessage", text: `while ${operation} is throttled` });

      await xan.waitFor(isErrorWith("internal_error"), 15_000);
      stop();
      await sandbox.hooks.idle();
      expect(xan.isOpen && yve.isOpen).toBe(true);
      expect(xan.framesWhere(isGatewayError)).toEqual([]);

      xan.send({ action: "sendmessage", text: `after ${operation} recovered` });
      await Promise.all([xan, yve].map((client) => client.waitFor(isMessageWith(`after ${operation} recovered`))));
      await flushDeliveries(sandbox, [xan, yve]);
      expect(yve.framesWhere(isMessageWith(`after ${operation} recovered`))).toHaveLength(1);
      expect(crashLines(sandbox)).toEqual([]);
    },
  );

  it("keeps a message whose broadcast failed in the room's history, where clients catch up", async () => {
    const [zoe, abe] = await Promise.all([connect("zoe"), connect("abe")]);
    const stop = faults().add({ operations: ["Query"], error: "ProvisionedThroughputExceededException" });
    zoe.send({ action: "sendmessage", text: "stored, not sent" });
    // The sender sees it went in, and is not told it failed: sent again, it would be in the history twice.
    await zoe.waitFor(isMessageWith("stored, not sent"), 15_000);
    stop();
    await sandbox.hooks.idle();
    expect(zoe.framesWhere(isErrorWith("internal_error"))).toEqual([]);

    abe.send({ action: "history", room: "lobby" });
    const history = await abe.waitFor<HistoryFrame>((frame) => (frame as HistoryFrame).type === "history");
    expect(history.messages.map((message) => message.text)).toContain("stored, not sent");
  });

  it("refuses a new connection with 500 while its record cannot be written, and admits it once it can", async () => {
    const stop = faults().add({ operations: ["PutItem"], error: "ProvisionedThroughputExceededException" });
    const refused = await connectAs(sandbox, "cal").catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(HandshakeRefused);
    expect((refused as HandshakeRefused).status).toBe(500);
    expect(sandbox.hooks.connections()).toEqual([]);
    stop();
    expect((await connect("cal")).isOpen).toBe(true);
  });
});

describe("the JWKS going down under open connections", () => {
  let issuer: TokenIssuer;
  let sandbox: SecuritySandbox;
  beforeAll(async () => {
    issuer = await startTokenIssuer({ issuer: "https://auth.example.test/api/auth" });
    sandbox = await startSecuritySandbox({
      auth: { kind: "external", jwksUri: issuer.jwksUri, issuer: issuer.issuer },
    });
  });
  afterAll(async () => {
    issuer.setJwks({ kind: "ok" });
    await sandbox.close();
    await issuer.close();
  });

  const connect = async (userId: string) =>
    Object.assign(await openClient(sandbox.urls.webSocket, { token: issuer.sessionToken({ userId, name: userId }) }), {
      userId,
    });
  const refusal = async (userId: string, header: Record<string, unknown> = {}) => {
    const mark = sandbox.jsonLines.length;
    const token = issuer.sessionToken({ userId, header });
    const err = await openClient(sandbox.urls.webSocket, { token }).catch((error: unknown) => error);
    const reasons = jsonEntries(sandbox)
      .slice(mark)
      .filter((entry) => entry.message === "connect refused")
      .map((entry) => entry.reason);
    return { status: err instanceof HandshakeRefused ? err.status : "opened", reasons };
  };
  async function chat(from: Client, to: readonly Client[], text: string) {
    from.send({ action: "sendmessage", text });
    await Promise.all([from, ...to].map((client) => client.waitFor(isMessageWith(text))));
  }

  it("keeps open connections chatting, refuses connects that need the JWKS, and admits again once it is back", async () => {
    const ana = await connect("st-ana");
    const ben = await connect("st-ben");
    ana.send({ action: "refresh", token: issuer.sessionToken({ userId: "st-ana" }) });
    await ana.waitFor(isRefreshed); // the message handler has fetched the keys too
    const fetches = issuer.jwksRequests;

    issuer.setJwks({ kind: "down" });

    // Open sockets never need the JWKS again: their identity is in the connection record.
    await chat(ana, [ben], "the JWKS is down");
    await chat(ben, [ana], "we are still here");
    // A warm authorizer still has the keys cached, so tokens under a key it knows are still verified.
    const cam = await connect("st-cam");
    // So does a warm message handler for a refresh (it has its own cache: it is another function).
    ben.send({ action: "refresh", token: issuer.sessionToken({ userId: "st-ben" }) });
    await ben.waitFor(isRefreshed);
    expect(issuer.jwksRequests).toBe(fetches);

    // A key it has never seen (a rotation) needs the JWKS: refused, failing closed.
    expect(await refusal("st-dan", { kid: "d-rotated-key" })).toEqual({ status: 401, reasons: ["jwks_unavailable"] });
    // So does every connect on a new instance, whose cache is empty.
    sandbox.coldStart();
    expect(await refusal("st-dan")).toEqual({ status: 401, reasons: ["jwks_unavailable"] });
    await chat(cam, [ana, ben], "a new instance serves us too");
    // A refresh on a new instance cannot be verified: the client hears to try again later (not that its token is
    // bad), and the session and the socket are left as they were.
    const mark = sandbox.jsonLines.length;
    cam.send({ action: "refresh", token: issuer.sessionToken({ userId: "st-cam" }) });
    await cam.waitFor(isErrorWith("auth_unavailable"));
    expect(jsonEntries(sandbox).slice(mark)).toContainEqual(
      expect.objectContaining({ message: "refresh refused", reason: "jwks_unavailable" }),
    );
    expect(cam.isOpen).toBe(true);
    expect(await connectionRecords(sandbox)).toHaveLength(3);

    issuer.setJwks({ kind: "ok" });
    // After a failed fetch the verifier waits out a short cool-down before fetching again (not once per connect).
    const clock = fakeWallClock();
    let dan: Client;
    try {
      clock.advance(JWKS_FAILURE_COOLDOWN_MS);
      dan = await connect("st-dan");
    } finally {
      clock.restore();
    }
    await chat(dan, [ana, ben, cam], "back");
    for (const client of [ana, ben, cam, dan]) expect(client.framesWhere(isMessageWith("back"))).toHaveLength(1);
    expect(crashLines(sandbox)).toEqual([]);
    await Promise.all([ana, ben, cam, dan].map((client) => client.close()));
  });
});
