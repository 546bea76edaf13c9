import dynalite from "dynalite";
import { afterAll, beforeAll } from "vitest";
import type { Clock } from "../../core/clock.js";
import { ConnectionStore } from "../../core/connection-store.js";
import { connectionTableCreateInput } from "../../core/connection-table.js";
import { createDocumentClient } from "../../core/dynamodb-client.js";
import { RoomStore } from "../../core/room-store.js";
import { roomTableCreateInput } from "../../core/room-table.js";
import { createTable } from "../../sandbox/dynamo.js";
import { closeServer, listenOn } from "../../sandbox/server-lifecycle.js";

/** A real DynamoDB implementation (dynalite) in this process, with fresh chat tables on demand. */
export async function startTables() {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  const endpoint = `http://127.0.0.1:${await listenOn(server, 0, "127.0.0.1")}`;
  const doc = createDocumentClient({ endpoint });
  let count = 0;
  return {
    endpoint,
    doc,
    /** New, empty tables and stores over them. */
    async fresh(clock: Clock) {
      const suffix = ++count;
      // Until ACTIVE, dynalite answers item calls with ResourceNotFoundException: on a busy machine, the first one
      // can come before that.
      await createTable(endpoint, connectionTableCreateInput(`connections-${suffix}`));
      await createTable(endpoint, roomTableCreateInput(`rooms-${suffix}`));
      return {
        connections: new ConnectionStore(doc, `connections-${suffix}`, clock),
        rooms: new RoomStore(doc, `rooms-${suffix}`, clock),
      };
    },
    close: () => closeServer(server),
  };
}

export type ChatTables = Awaited<ReturnType<typeof startTables>>;

/** `startTables` for the calling test file: started before its tests, closed after them. */
export function useTables(): Pick<ChatTables, "fresh" | "doc"> {
  let tables: ChatTables | undefined;
  beforeAll(async () => {
    tables = await startTables();
  });
  afterAll(() => tables?.close());
  const started = () => {
    if (!tables) throw new Error("useTables: the tables start in beforeAll");
    return tables;
  };
  return {
    fresh: (clock) => started().fresh(clock),
    get doc() {
      return started().doc;
    },
  };
}
