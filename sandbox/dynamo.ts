import { setTimeout as delay } from "node:timers/promises";
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import dynalite from "dynalite";
import { connectionTableCreateInput } from "../core/connection-table.js";
import { createDocumentClient } from "../core/dynamodb-client.js";
import { LOCAL_ENDPOINT_SETTINGS } from "../core/local-endpoint.js";
import { roomTableCreateInput } from "../core/room-table.js";
import { startDynamoDbLocal } from "./dynamodb-local.js";
import { SandboxStartError } from "./errors.js";
import { closeServer, listenOn } from "./server-lifecycle.js";
import { urlHost } from "./url-host.js";

export type DynamoOptions =
  /** dynalite, in this process: starts in milliseconds, nothing to install. */
  | { kind: "dynalite" }
  /** AWS's DynamoDB Local (Java), for behaviour closest to the real service. Takes a few seconds to start. */
  | { kind: "dynamodb-local" /** @default 30000 */; startTimeoutMs?: number }
  /** A DynamoDB that is already running; the table is created if it is missing. */
  | { kind: "endpoint"; endpoint: string };

export interface SandboxDynamo {
  readonly kind: DynamoOptions["kind"];
  readonly endpoint: string;
  /** The connections table. */
  readonly tableName: string;
  /** The rooms table: memberships, history, counters. */
  readonly roomsTableName: string;
  /** A document client on the table's endpoint, for tests that look at the records. */
  readonly client: DynamoDBDocumentClient;
  readonly description: string;
  close(): Promise<void>;
}

/** Starts (or reaches) DynamoDB and creates the chat's tables from the stack's own definitions. */
export async function startDynamo(
  options: DynamoOptions,
  tables: { connections: string; rooms: string },
  host: string,
): Promise<SandboxDynamo> {
  const running = await run(options, host);
  for (const input of [connectionTableCreateInput(tables.connections), roomTableCreateInput(tables.rooms)]) {
    try {
      await createTable(running.endpoint, input);
    } catch (err) {
      await running.close();
      throw new SandboxStartError(
        running.description,
        `could not create table ${input.TableName}: ${String(err)}`,
        err,
      );
    }
  }
  const client = createDocumentClient({ endpoint: running.endpoint });
  return {
    kind: options.kind,
    endpoint: running.endpoint,
    tableName: tables.connections,
    roomsTableName: tables.rooms,
    client,
    description: running.description,
    async close() {
      client.destroy();
      await running.close();
    },
  };
}

async function run(options: DynamoOptions, host: string) {
  switch (options.kind) {
    case "dynalite": {
      // No artificial CREATING delay: the table is usable at once.
      const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
      const port = await listenOn(server, 0, host);
      return {
        endpoint: `http://${urlHost(host)}:${port}`,
        description: "dynalite (in-process)",
        close: () => closeServer(server),
      };
    }
    case "dynamodb-local": {
      const local = await startDynamoDbLocal({ host, startTimeoutMs: options.startTimeoutMs ?? 30_000 });
      return { endpoint: local.endpoint, description: "DynamoDB Local (Java)", close: local.close };
    }
    case "endpoint":
      return { endpoint: options.endpoint, description: `DynamoDB at ${options.endpoint}`, close: async () => {} };
  }
}

/** Creates the table (unless it exists) and waits until it is ACTIVE: dynalite refuses item calls before. */
export async function createTable(
  endpoint: string,
  input: ReturnType<typeof connectionTableCreateInput | typeof roomTableCreateInput>,
): Promise<void> {
  const tableName = input.TableName;
  const client = new DynamoDBClient({ endpoint, ...LOCAL_ENDPOINT_SETTINGS });
  try {
    await client.send(new CreateTableCommand(input)).catch((err: unknown) => {
      // An endpoint that outlives sandboxes may have the table already.
      if ((err as Error).name !== "ResourceInUseException") throw err;
    });
    for (let tries = 0; ; tries++) {
      const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
      if (Table?.TableStatus === "ACTIVE") return;
      if (tries > 200) throw new Error(`table ${tableName} is still ${Table?.TableStatus}`);
      await delay(50);
    }
  } finally {
    client.destroy();
  }
}
