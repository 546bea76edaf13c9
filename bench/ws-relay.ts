import type { AddressInfo } from "node:net";
import { WebSocketServer } from "ws";
import { LOBBY, type MessageFrame } from "../core/protocol.js";
import type { ServiceMethods } from "./child-protocol.js";
import type { ChatEndpoint } from "./e2e-client.js";

/**
 * The `ws-relay` child service: the least a chat server can do, one process holding every socket and writing each
 * `sendmessage` to all of them. No authorizer, no Lambda, no DynamoDB, no management API: the end-to-end floor.
 */
export async function serve(): Promise<ServiceMethods> {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: false });
  await new Promise<void>((resolve) => wss.once("listening", () => resolve()));
  let sequence = 0;
  wss.on("connection", (socket) => {
    socket.on("message", (data) => {
      const request = JSON.parse(data.toString()) as { action?: string; room?: string; text?: string };
      if (request.action !== "sendmessage" || typeof request.text !== "string") return;
      const frame: MessageFrame = {
        type: "message",
        room: request.room ?? LOBBY,
        id: String(sequence++),
        sender: { userId: "relay" },
        text: request.text,
        sentAt: new Date().toISOString(),
      };
      const json = JSON.stringify(frame);
      for (const client of wss.clients) client.send(json);
    });
  });
  const { port } = wss.address() as AddressInfo;
  return {
    info: async (): Promise<ChatEndpoint> => ({ webSocketUrl: `ws://127.0.0.1:${port}` }),
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close(() => resolve());
      }),
  };
}
