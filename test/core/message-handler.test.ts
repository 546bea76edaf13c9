import {
  ApiGatewayManagementApiClient,
  GoneException,
  LimitExceededException,
  PostToConnectionCommand,
} from "@aws-sdk/client-apigatewaymanagementapi";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DeleteCommand, DynamoDBDocumentClient, GetCommand, ScanCommand } from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { ConnectionStore } from "../../core/connection-store.js";
import { ManagementApiConnections } from "../../core/connections-api.js";
import { createMessageHandler } from "../../core/handlers/message.js";
import { Logger } from "../../core/logger.js";
import type { ServerFrame } from "../../core/protocol.js";
import { captureLogs, webSocketEvent } from "./handler-events.js";

const now = 1_795_932_000_000;
const ttl = now / 1000 + 3600;
const sender = { userId: "u-ada", sessionHandle: "s-1", tenantId: "public", expiresAt: ttl, name: "Ada" };

const dynamo = mockClient(DynamoDBDocumentClient);
const management = mockClient(ApiGatewayManagementApiClient);

const gone = () => new GoneException({ message: "gone", $metadata: {} });
const throttled = () => new LimitExceededException({ message: "slow down", $metadata: {} });

/** What each connection received, decoded. */
function received(): Map<string, ServerFrame[]> {
  const byConnection = new Map<string, ServerFrame[]>();
  for (const call of management.commandCalls(PostToConnectionCommand)) {
    const { ConnectionId, Data } = call.args[0].input;
    const frame = JSON.parse(new TextDecoder().decode(Data as Uint8Array)) as ServerFrame;
    byConnection.set(ConnectionId as string, [...(byConnection.get(ConnectionId as string) ?? []), frame]);
  }
  return byConnection;
}

function setup() {
  const logs = captureLogs();
  const doc = DynamoDBDocumentClient.from(new DynamoDBClient({ region: "eu-west-1" }));
  const handler = createMessageHandler({
    store: new ConnectionStore(doc, "connections", () => now),
    connections: new ManagementApiConnections(new ApiGatewayManagementApiClient({ region: "eu-west-1" })),
    clock: () => now,
    logger: new Logger({ sink: logs.sink }),
    broadcast: { concurrency: 4, sleep: async () => {} },
  });
  return { handler, logs };
}

const page = (...ids: string[]) => ids.map((connectionId) => ({ connectionId, expiresAt: ttl }));
const send = (text: unknown, connectionId = "conn-A=") =>
  webSocketEvent("sendmessage", {
    connectionId,
    body: JSON.stringify({ action: "sendmessage", text }),
    authorizer: sender,
  });

describe("message handler", () => {
  beforeEach(() => {
    dynamo.reset();
    management.reset();
    management.on(PostToConnectionCommand).resolves({});
    dynamo.on(DeleteCommand).resolves({});
  });

  it("broadcasts one frame to every connection, on every Scan page, naming the authenticated sender", async () => {
    dynamo
      .on(ScanCommand)
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
    expect(dynamo.commandCalls(ScanCommand)[1]?.args[0].input.ExclusiveStartKey).toEqual({ connectionId: "conn-B=" });
  });

  it("takes the sender from the connection record when the authorizer context is absent, never from the body", async () => {
    dynamo.on(GetCommand).resolves({ Item: { connectionId: "conn-A=", ...sender, ttl } });
    dynamo.on(ScanCommand).resolves({ Items: page("conn-A=") });
    const { handler } = setup();
    const event = webSocketEvent("sendmessage", {
      body: JSON.stringify({ action: "sendmessage", text: "hi", sender: { userId: "mallory" } }),
    });
    await handler(event);
    expect(received().get("conn-A=")?.[0]).toMatchObject({ sender: { userId: "u-ada" } });
  });

  it("removes a gone connection and still delivers to the rest", async () => {
    dynamo.on(ScanCommand).resolves({ Items: page("conn-A=", "conn-gone=", "conn-C=") });
    management.on(PostToConnectionCommand, { ConnectionId: "conn-gone=" }).rejects(gone());
    const { handler, logs } = setup();
    await handler(send("hi"));
    expect(dynamo.commandCalls(DeleteCommand).map((c) => c.args[0].input.Key)).toEqual([
      { connectionId: "conn-gone=" },
    ]);
    expect(received().has("conn-C=")).toBe(true);
    expect(logs.all()).toContain('"gone":1');
    expect(logs.all()).toContain('"delivered":2');
  });

  it("retries a throttled connection until it succeeds", async () => {
    dynamo.on(ScanCommand).resolves({ Items: page("conn-A=", "conn-slow=") });
    management
      .on(PostToConnectionCommand, { ConnectionId: "conn-slow=" })
      .rejectsOnce(throttled())
      .rejectsOnce(throttled())
      .resolves({});
    const { handler, logs } = setup();
    await handler(send("hi"));
    const attempts = management
      .commandCalls(PostToConnectionCommand)
      .filter((c) => c.args[0].input.ConnectionId === "conn-slow=");
    expect(attempts).toHaveLength(3);
    expect(logs.all()).toContain('"delivered":2');
    expect(logs.all()).toContain('"failed":0');
  });

  it("counts a connection that keeps failing and delivers to all the others", async () => {
    const many = Array.from({ length: 25 }, (_, i) => `conn-${i}=`);
    dynamo.on(ScanCommand).resolves({ Items: page(...many) });
    management.on(PostToConnectionCommand, { ConnectionId: "conn-7=" }).rejects(new Error("socket hang up"));
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
    dynamo.on(ScanCommand).resolves({ Items: page("conn-A=", "conn-B=") });
    const { handler } = setup();
    const result = await handler(webSocketEvent("$default", { body, authorizer: sender }));
    expect(result.statusCode).toBe(400);
    const frames = received();
    expect([...frames.keys()]).toEqual(["conn-A="]);
    expect(frames.get("conn-A=")?.[0]).toMatchObject({ type: "error", code });
    expect(dynamo.commandCalls(ScanCommand)).toHaveLength(0);
  });

  it("accepts text of exactly the limit, counted in characters not bytes", async () => {
    dynamo.on(ScanCommand).resolves({ Items: page("conn-A=") });
    const { handler } = setup();
    expect((await handler(send("é".repeat(2000)))).statusCode).toBe(200);
    expect(received().get("conn-A=")?.[0]).toMatchObject({ type: "message" });
  });

  it("tells a connection with no record that it is no longer signed in", async () => {
    dynamo.on(GetCommand).resolves({});
    const { handler } = setup();
    await handler(webSocketEvent("sendmessage", { body: JSON.stringify({ action: "sendmessage", text: "hi" }) }));
    expect(received().get("conn-A=")?.[0]).toMatchObject({ type: "error", code: "unauthenticated" });
  });

  it("answers internal_error when DynamoDB fails, without crashing", async () => {
    dynamo.on(ScanCommand).rejects(new Error("ProvisionedThroughputExceededException"));
    const { handler, logs } = setup();
    expect((await handler(send("hi"))).statusCode).toBe(500);
    expect(received().get("conn-A=")?.[0]).toMatchObject({ type: "error", code: "internal_error" });
    expect(logs.all()).toContain("message handling failed");
  });

  it("never logs the message text at info", async () => {
    dynamo.on(ScanCommand).resolves({ Items: page("conn-A=") });
    const { handler, logs } = setup();
    await handler(send("a secret recipe"));
    expect(logs.all()).not.toContain("secret recipe");
  });
});
