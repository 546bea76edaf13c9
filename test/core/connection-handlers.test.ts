import { describe, expect, it } from "vitest";
import { ChatService } from "../../core/chat-service.js";
import { createConnectHandler } from "../../core/handlers/connect.js";
import { createDisconnectHandler } from "../../core/handlers/disconnect.js";
import { Logger } from "../../core/logger.js";
import { useTables } from "./chat-tables.js";
import { captureLogs, webSocketEvent } from "./handler-events.js";
import { RecordingApi } from "./recording-api.js";

const now = 1_795_932_000_000;
const tables = useTables();

/** A `$connect` handler over fresh tables. */
async function connectHandler(logger = new Logger({ sink: () => {} })) {
  const { connections, rooms } = await tables.fresh(() => now);
  return { connections, rooms, handler: createConnectHandler({ store: connections, rooms, clock: () => now, logger }) };
}

const authorizer = { userId: "u-1", sessionHandle: "s", tenantId: "acme", expiresAt: "1795935600", name: "Ada" };

describe("$connect and $disconnect handlers", () => {
  it("stores who is on the connection, with the token's expiry and a TTL past API Gateway's 2-hour limit", async () => {
    const logs = captureLogs();
    const { connections, rooms, handler } = await connectHandler(new Logger({ sink: logs.sink }));
    const event = webSocketEvent("$connect", { authorizer });
    expect(await handler(event)).toEqual({ statusCode: 200 });
    const connectedAt = event.requestContext.connectedAt;
    expect(await connections.get("conn-A=")).toEqual({
      connectionId: "conn-A=",
      userId: "u-1",
      tenantId: "acme",
      name: "Ada",
      connectedAt,
      expiresAt: 1795935600,
      ttl: Math.floor(connectedAt / 1000) + 2 * 3600 + 300,
      rooms: new Set(["lobby"]),
    });
    expect((await rooms.presence("lobby", 10)).users).toEqual([{ userId: "u-1", name: "Ada" }]);
    expect(logs.all()).toContain('"message":"connected"');
  });

  it("echoes the chat subprotocol when the token came that way", async () => {
    const { handler } = await connectHandler();
    const event = webSocketEvent("$connect", { authorizer });
    event.headers = { "Sec-WebSocket-Protocol": "supertokens-chat, eyJ.x.y" };
    expect(await handler(event)).toEqual({
      statusCode: 200,
      headers: { "Sec-WebSocket-Protocol": "supertokens-chat" },
    });
  });

  it("refuses a $connect that reached it without an authorizer context", async () => {
    const { connections, handler } = await connectHandler();
    expect(await handler(webSocketEvent("$connect"))).toEqual({ statusCode: 403 });
    expect(await connections.get("conn-A=")).toBeUndefined();
  });

  it("forgets the connection and its memberships on $disconnect", async () => {
    const logger = new Logger({ sink: () => {} });
    const { connections, rooms, handler } = await connectHandler(logger);
    await handler(webSocketEvent("$connect", { authorizer }));
    const chat = new ChatService({ connections, rooms, api: new RecordingApi(), clock: () => now, logger });
    expect(await createDisconnectHandler({ chat, logger })(webSocketEvent("$disconnect"))).toEqual({ statusCode: 200 });
    expect(await connections.get("conn-A=")).toBeUndefined();
    expect((await rooms.presence("lobby", 10)).users).toEqual([]);
  });
});
