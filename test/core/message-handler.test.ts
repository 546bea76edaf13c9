import { ApiGatewayManagementApiClient, DeleteConnectionCommand } from "@aws-sdk/client-apigatewaymanagementapi";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import {
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { ChatService } from "../../core/chat-service.js";
import { ConnectionStore } from "../../core/connection-store.js";
import type { ConnectionRecord } from "../../core/connection-table.js";
import { ManagementApiConnections } from "../../core/connections-api.js";
import { RejectionReason, TokenRejectedError } from "../../core/errors.js";
import { createMessageHandler } from "../../core/handlers/message.js";
import { Logger } from "../../core/logger.js";
import { ManagementApiError } from "../../core/post-to-connection.js";
import type { ServerFrame } from "../../core/protocol.js";
import { RoomStore } from "../../core/room-store.js";
import { captureLogs, webSocketEvent } from "./handler-events.js";

const now = 1_795_932_000_000;
const ttl = now / 1000 + 3600;
const senderRecord: ConnectionRecord = {
  connectionId: "conn-A=",
  userId: "u-ada",
  tenantId: "public",
  name: "Ada",
  connectedAt: now,
  expiresAt: now / 1000 + 600,
  ttl,
  rooms: new Set(["lobby"]),
};

const dynamo = mockClient(DynamoDBDocumentClient);
const management = mockClient(ApiGatewayManagementApiClient);

const gone = (id: string) => new ManagementApiError("GoneException", id, 410, "gone");
const throttled = (id: string) => new ManagementApiError("LimitExceededException", id, 429, "slow down");

/**
 * Stands in for `PostToConnection` (tested against a real HTTP server on its own): records every post and answers
 * a connection's posts with the outcomes queued for it in turn (an error, or `"ok"`), the last one for good.
 */
class RecordingPoster {
  readonly posts: { connectionId: string; data: string }[] = [];
  private readonly outcomes = new Map<string, (Error | "ok")[]>();

  async post(connectionId: string, data: string): Promise<void> {
    this.posts.push({ connectionId, data });
    const queued = this.outcomes.get(connectionId) ?? [];
    const outcome = queued.length > 1 ? queued.shift() : queued[0];
    if (outcome instanceof Error) throw outcome;
  }

  answer(connectionId: string, ...outcomes: (Error | "ok")[]): void {
    this.outcomes.set(connectionId, outcomes);
  }
}
let poster = new RecordingPoster();

/** What each connection received, decoded. */
function received(): Map<string, ServerFrame[]> {
  const byConnection = new Map<string, ServerFrame[]>();
  for (const { connectionId, data } of poster.posts) {
    byConnection.set(connectionId, [...(byConnection.get(connectionId) ?? []), JSON.parse(data) as ServerFrame]);
  }
  return byConnection;
}

/** Stands in for the token verifier: tokens are "valid:<userId>" or anything else (refused). */
const verifier = {
  verify: async (token: string | undefined) => {
    if (!token?.startsWith("valid:")) throw new TokenRejectedError(RejectionReason.BadSignature, "bad");
    return { userId: token.slice(6), sessionHandle: "s-2", tenantId: "public", expiresAt: now / 1000 + 3600 };
  },
};

function setup(options: { burst?: number } = {}) {
  const logs = captureLogs();
  const doc = DynamoDBDocumentClient.from(new DynamoDBClient({ region: "eu-west-1" }));
  const api = new ManagementApiConnections(new ApiGatewayManagementApiClient({ region: "eu-west-1" }), poster);
  const logger = new Logger({ sink: logs.sink });
  const chat = new ChatService({
    connections: new ConnectionStore(doc, "connections", () => now),
    rooms: new RoomStore(doc, "rooms", () => now),
    api,
    verifier,
    clock: () => now,
    logger,
    rateLimit: { burst: options.burst ?? 10, perSecond: 1 },
    broadcast: { concurrency: 4, sleep: async () => {} },
  });
  return { handler: createMessageHandler({ chat, api, logger }), logs };
}

/** Room members as the members Query returns them. */
const page = (...ids: string[]) =>
  ids.map((connectionId) => ({ connectionId, userId: `u-${connectionId}`, expiresAt: ttl }));
const send = (text: unknown) =>
  webSocketEvent("sendmessage", { body: JSON.stringify({ action: "sendmessage", text }) });

describe("message handler", () => {
  beforeEach(() => {
    dynamo.reset();
    management.reset();
    poster = new RecordingPoster();
    management.on(DeleteConnectionCommand).resolves({});
    dynamo.on(DeleteCommand).resolves({});
    dynamo.on(UpdateCommand).resolves({ Attributes: { last: 7 } });
    dynamo.on(PutCommand).resolves({});
    dynamo.on(GetCommand).resolves({});
    dynamo.on(GetCommand, { Key: { connectionId: "conn-A=" } }).resolves({ Item: senderRecord });
  });

  it("broadcasts one frame to every connection, on every Scan page, naming the authenticated sender", async () => {
    dynamo
      .on(QueryCommand)
      .resolvesOnce({ Items: page("conn-A=", "conn-B="), LastEvaluatedKey: { connectionId: "conn-B=" } })
      .resolvesOnce({ Items: page("conn-C=") });
    const { handler } = setup();
    const result = await handler(send("  hello  "));
    expect(result.statusCode).toBe(200);
    const frames = received();
    expect([...frames.keys()].sort()).toEqual(["conn-A=", "conn-B=", "conn-C="]);
    const [frame] = frames.get("conn-C=") ?? [];
    expect(frame).toMatchObject({ type: "message", text: "hello", sender: { userId: "u-ada", name: "Ada" } });
    expect(frame).toHaveProperty("sentAt", new Date(now).toISOString());
    expect(frames.get("conn-A=")?.[0]).toEqual(frame);
    expect(dynamo.commandCalls(QueryCommand)[1]?.args[0].input.ExclusiveStartKey).toEqual({ connectionId: "conn-B=" });
    expect(dynamo.commandCalls(PutCommand)[0]?.args[0].input.Item).toMatchObject({ room: "lobby", text: "hello" });
  });

  it("takes the sender from the connection record, never from the body or a stale authorizer context", async () => {
    dynamo.on(QueryCommand).resolves({ Items: page("conn-A=") });
    const { handler } = setup();
    const event = webSocketEvent("sendmessage", {
      body: JSON.stringify({ action: "sendmessage", text: "hi", sender: { userId: "mallory" } }),
      authorizer: { userId: "someone-else", sessionHandle: "s", tenantId: "public", expiresAt: 1 },
    });
    await handler(event);
    expect(received().get("conn-A=")?.[0]).toMatchObject({ sender: { userId: "u-ada", name: "Ada" } });
  });

  it("removes a gone connection and still delivers to the rest", async () => {
    dynamo.on(QueryCommand).resolves({ Items: page("conn-A=", "conn-gone=", "conn-C=") });
    poster.answer("conn-gone=", gone("conn-gone="));
    const { handler, logs } = setup();
    await handler(send("hi"));
    // Its lobby membership and its record (no record is mocked, so it is older than the $connect grace).
    expect(dynamo.commandCalls(DeleteCommand).map((c) => c.args[0].input.Key)).toEqual([
      { room: "lobby", sk: "member#u-conn-gone=#conn-gone=" },
      { connectionId: "conn-gone=" },
    ]);
    expect(received().has("conn-C=")).toBe(true);
    expect(logs.all()).toContain('"gone":1');
    expect(logs.all()).toContain('"delivered":2');
  });

  it("retries a throttled connection until it succeeds", async () => {
    dynamo.on(QueryCommand).resolves({ Items: page("conn-A=", "conn-slow=") });
    poster.answer("conn-slow=", throttled("conn-slow="), throttled("conn-slow="), "ok");
    const { handler, logs } = setup();
    await handler(send("hi"));
    const attempts = poster.posts.filter((post) => post.connectionId === "conn-slow=");
    expect(attempts).toHaveLength(3);
    expect(logs.all()).toContain('"delivered":2');
    expect(logs.all()).toContain('"failed":0');
  });

  it("counts a connection that keeps failing and delivers to all the others", async () => {
    const many = Array.from({ length: 25 }, (_, i) => `conn-${i}=`);
    dynamo.on(QueryCommand).resolves({ Items: page(...many) });
    poster.answer("conn-7=", new ManagementApiError("NetworkError", "conn-7=", undefined, "socket hang up"));
    const { handler, logs } = setup();
    expect((await handler(send("hi"))).statusCode).toBe(200);
    expect(received().size).toBe(25); // conn-7 was tried too
    expect(logs.all()).toContain('"delivered":24');
    expect(logs.all()).toContain('"failed":1');
    expect(dynamo.commandCalls(DeleteCommand)).toHaveLength(0);
  });

  it.each([
    ["not JSON", "hello", "invalid_json"],
    ["a JSON array", "[1]", "invalid_json"],
    ["an unknown action", JSON.stringify({ action: "dance" }), "unknown_action"],
    ["no action", JSON.stringify({ text: "hi" }), "unknown_action"],
    ["missing text", JSON.stringify({ action: "sendmessage" }), "invalid_text"],
    ["blank text", JSON.stringify({ action: "sendmessage", text: "   " }), "invalid_text"],
    ["text that is not a string", JSON.stringify({ action: "sendmessage", text: 42 }), "invalid_text"],
    ["over-long text", JSON.stringify({ action: "sendmessage", text: "x".repeat(2001) }), "text_too_long"],
  ])("answers %s with an error frame to the sender only", async (_name, body, code) => {
    dynamo.on(QueryCommand).resolves({ Items: page("conn-A=", "conn-B=") });
    const { handler } = setup();
    const result = await handler(webSocketEvent("$default", { body }));
    expect(result.statusCode).toBe(400);
    const frames = received();
    expect([...frames.keys()]).toEqual(["conn-A="]);
    expect(frames.get("conn-A=")?.[0]).toMatchObject({ type: "error", code });
    expect(dynamo.commandCalls(QueryCommand)).toHaveLength(0);
  });

  it("accepts text of exactly the limit, counted in characters not bytes", async () => {
    dynamo.on(QueryCommand).resolves({ Items: page("conn-A=") });
    const { handler } = setup();
    expect((await handler(send("é".repeat(2000)))).statusCode).toBe(200);
    expect(received().get("conn-A=")?.[0]).toMatchObject({ type: "message" });
  });

  it("tells a connection with no record that it is no longer signed in, and closes it", async () => {
    dynamo.on(GetCommand).resolves({});
    const { handler } = setup();
    await handler(send("hi"));
    expect(received().get("conn-A=")?.[0]).toMatchObject({ type: "error", code: "unauthenticated" });
    expect(management.commandCalls(DeleteConnectionCommand)[0]?.args[0].input.ConnectionId).toBe("conn-A=");
  });

  it("refuses a message once the session has expired, then closes the connection", async () => {
    dynamo.on(GetCommand).resolves({ Item: { ...senderRecord, expiresAt: now / 1000 - 1 } });
    dynamo.on(QueryCommand).resolves({ Items: page("conn-A=", "conn-B=") });
    const { handler } = setup();
    expect((await handler(send("too late"))).statusCode).toBe(400);
    expect([...received().keys()]).toEqual(["conn-A="]);
    expect(received().get("conn-A=")?.[0]).toMatchObject({ type: "error", code: "session_expired" });
    expect(management.commandCalls(DeleteConnectionCommand)).toHaveLength(1);
  });

  it("closes connections with expired sessions that a broadcast meets, instead of sending to them", async () => {
    dynamo.on(QueryCommand).resolves({
      Items: [...page("conn-A="), { connectionId: "conn-stale=", expiresAt: now / 1000 - 5 }],
    });
    const { handler, logs } = setup();
    await handler(send("hi"));
    expect([...received().keys()]).toEqual(["conn-A="]);
    expect(management.commandCalls(DeleteConnectionCommand)[0]?.args[0].input.ConnectionId).toBe("conn-stale=");
    expect(logs.all()).toContain('"expired":1');
  });

  const refresh = (token: string) => webSocketEvent("refresh", { body: JSON.stringify({ action: "refresh", token }) });

  it("extends the session on a refresh with a valid token of the same user", async () => {
    // The renewed record, as UpdateItem's ALL_NEW returns it.
    dynamo.on(UpdateCommand).resolves({ Attributes: { ...senderRecord, expiresAt: now / 1000 + 3600 } });
    const { handler } = setup();
    expect((await handler(refresh("valid:u-ada"))).statusCode).toBe(200);
    expect(received().get("conn-A=")?.[0]).toEqual({ type: "refreshed", expiresAt: now / 1000 + 3600 });
    const update = dynamo.commandCalls(UpdateCommand)[0]?.args[0].input;
    expect(update?.ExpressionAttributeValues).toMatchObject({ ":exp": now / 1000 + 3600, ":user": "u-ada" });
  });

  it("answers a refresh that would not extend the session with the session's expiry, writing nothing", async () => {
    const current = now / 1000 + 3600; // what the stand-in verifier gives every valid token
    dynamo.on(GetCommand).resolves({ Item: { ...senderRecord, expiresAt: current, rooms: new Set(["lobby", "ops"]) } });
    const { handler } = setup();
    for (let i = 0; i < 3; i++) expect((await handler(refresh("valid:u-ada"))).statusCode).toBe(200);
    expect(received().get("conn-A=")).toEqual(Array(3).fill({ type: "refreshed", expiresAt: current }));
    expect(dynamo.commandCalls(UpdateCommand)).toHaveLength(0);
  });

  it("accepts a refresh that arrives just after the session ran out", async () => {
    dynamo.on(GetCommand).resolves({ Item: { ...senderRecord, expiresAt: now / 1000 - 1 } });
    const { handler } = setup();
    await handler(refresh("valid:u-ada"));
    expect(received().get("conn-A=")?.[0]).toMatchObject({ type: "refreshed" });
    expect(management.commandCalls(DeleteConnectionCommand)).toHaveLength(0);
  });

  it.each([
    ["another user's token", "valid:u-mallory"],
    ["an invalid token", "forged"],
  ])("refuses a refresh with %s and leaves the session as it was", async (_name, token) => {
    const { handler } = setup();
    await handler(refresh(token));
    expect(received().get("conn-A=")?.[0]).toMatchObject({ type: "error", code: "invalid_token" });
    expect(dynamo.commandCalls(UpdateCommand)).toHaveLength(0);
  });

  it("answers rate_limited once a connection has used its burst", async () => {
    let bucket: ConnectionRecord["bucket"];
    dynamo.on(GetCommand).callsFake(() => ({ Item: { ...senderRecord, bucket } }));
    dynamo.on(UpdateCommand).callsFake((input) => {
      bucket = input.ExpressionAttributeValues[":next"] ?? bucket; // the bucket, not the message counter
      return { Attributes: { last: 1 } };
    });
    dynamo.on(QueryCommand).resolves({ Items: page("conn-A=", "conn-B=") });
    const { handler } = setup({ burst: 3 });
    const codes: number[] = [];
    for (let i = 0; i < 5; i++) codes.push((await handler(send(`m${i}`))).statusCode);
    expect(codes).toEqual([200, 200, 200, 400, 400]);
    expect(received().get("conn-B=")).toHaveLength(3);
    expect(received().get("conn-A=")?.at(-1)).toMatchObject({ type: "error", code: "rate_limited" });
  });

  it("answers internal_error when DynamoDB fails before the message is stored, without crashing", async () => {
    dynamo.on(PutCommand).rejects(new Error("ProvisionedThroughputExceededException"));
    const { handler, logs } = setup();
    expect((await handler(send("hi"))).statusCode).toBe(500);
    expect(received().get("conn-A=")?.[0]).toMatchObject({ type: "error", code: "internal_error" });
    expect(logs.all()).toContain("message handling failed");
  });

  it("shows the sender its stored message, not internal_error, when the broadcast after the save fails", async () => {
    dynamo.on(QueryCommand).rejects(new Error("ProvisionedThroughputExceededException"));
    const { handler, logs } = setup();
    expect((await handler(send("hi"))).statusCode).toBe(200);
    // Told it failed, the sender would send it again: twice in the history.
    expect(received().get("conn-A=")).toEqual([expect.objectContaining({ type: "message", text: "hi" })]);
    expect(logs.all()).toContain("the message is stored but its broadcast failed");
  });

  it("does not take a sender gone before its answer for a failure", async () => {
    dynamo.on(QueryCommand).resolves({ Items: [] });
    poster.answer("conn-A=", gone("conn-A=")); // the tab closed while its history was read
    const { handler, logs } = setup();
    const body = JSON.stringify({ action: "history", room: "lobby", before: "000000000009" });
    expect((await handler(webSocketEvent("history", { body }))).statusCode).toBe(200);
    expect(logs.all()).not.toContain("message handling failed");
    expect(logs.all()).toContain("the sender left before its answer");
  });

  it("never logs the message text at info", async () => {
    dynamo.on(QueryCommand).resolves({ Items: page("conn-A=") });
    const { handler, logs } = setup();
    await handler(send("a secret recipe"));
    expect(logs.all()).not.toContain("secret recipe");
  });
});
