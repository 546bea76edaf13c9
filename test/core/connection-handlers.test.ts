import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DeleteCommand, DynamoDBDocumentClient, PutCommand } from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { ConnectionStore } from "../../core/connection-store.js";
import { createConnectHandler } from "../../core/handlers/connect.js";
import { createDisconnectHandler } from "../../core/handlers/disconnect.js";
import { Logger } from "../../core/logger.js";
import { captureLogs, webSocketEvent } from "./handler-events.js";

const dynamo = mockClient(DynamoDBDocumentClient);
const store = () =>
  new ConnectionStore(
    DynamoDBDocumentClient.from(new DynamoDBClient({ region: "eu-west-1" })),
    "connections",
    Date.now,
  );

describe("$connect and $disconnect handlers", () => {
  beforeEach(() => dynamo.reset());

  it("stores who is on the connection, with the token's expiry and a TTL past API Gateway's 2-hour limit", async () => {
    dynamo.on(PutCommand).resolves({});
    const logs = captureLogs();
    const handler = createConnectHandler({ store: store(), clock: Date.now, logger: new Logger({ sink: logs.sink }) });
    const event = webSocketEvent("$connect", {
      authorizer: { userId: "u-1", sessionHandle: "s", tenantId: "acme", expiresAt: "1795935600", name: "Ada" },
    });
    expect(await handler(event)).toEqual({ statusCode: 200 });
    const item = dynamo.commandCalls(PutCommand)[0]?.args[0].input.Item;
    const connectedAt = event.requestContext.connectedAt;
    expect(item).toEqual({
      connectionId: "conn-A=",
      userId: "u-1",
      tenantId: "acme",
      name: "Ada",
      connectedAt,
      expiresAt: 1795935600,
      ttl: Math.floor(connectedAt / 1000) + 2 * 3600 + 300,
    });
    expect(logs.all()).toContain('"message":"connected"');
  });

  it("refuses a $connect that reached it without an authorizer context", async () => {
    const handler = createConnectHandler({ store: store(), clock: Date.now, logger: new Logger({ sink: () => {} }) });
    expect(await handler(webSocketEvent("$connect"))).toEqual({ statusCode: 403 });
    expect(dynamo.commandCalls(PutCommand)).toHaveLength(0);
  });

  it("deletes the record on $disconnect", async () => {
    dynamo.on(DeleteCommand).resolves({});
    const handler = createDisconnectHandler({ store: store(), logger: new Logger({ sink: () => {} }) });
    expect(await handler(webSocketEvent("$disconnect", { connectionId: "conn-Z=" }))).toEqual({ statusCode: 200 });
    expect(dynamo.commandCalls(DeleteCommand)[0]?.args[0].input.Key).toEqual({ connectionId: "conn-Z=" });
  });
});
