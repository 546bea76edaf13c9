import type { AddressInfo } from "node:net";
import { CreateTableCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import dynalite from "dynalite";
import type { Clock } from "../../core/clock.js";
import { ConnectionStore } from "../../core/connection-store.js";
import { connectionTableCreateInput } from "../../core/connection-table.js";
import { createDocumentClient } from "../../core/dynamodb-client.js";
import { RoomStore } from "../../core/room-store.js";
import { roomTableCreateInput } from "../../core/room-table.js";

/** A real DynamoDB implementation (dynalite) in this process, with fresh chat tables on demand. */
export async function startTables() {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const raw = new DynamoDBClient({
    endpoint,
    region: "local",
    credentials: { accessKeyId: "x", secretAccessKey: "x" },
  });
  const doc = createDocumentClient({ endpoint });
  let count = 0;
  return {
    endpoint,
    doc,
    /** New, empty tables and stores over them. */
    async fresh(clock: Clock) {
      const suffix = ++count;
      await raw.send(new CreateTableCommand(connectionTableCreateInput(`connections-${suffix}`)));
      await raw.send(new CreateTableCommand(roomTableCreateInput(`rooms-${suffix}`)));
      return {
        connections: new ConnectionStore(doc, `connections-${suffix}`, clock),
        rooms: new RoomStore(doc, `rooms-${suffix}`, clock),
      };
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
