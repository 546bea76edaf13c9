import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as delay } from "node:timers/promises";
import { CreateTableCommand, DescribeTableCommand } from "@aws-sdk/client-dynamodb";
import { BatchWriteCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import dynalite from "dynalite";
import { toEpochSeconds } from "../core/clock.js";
import { createDocumentClient } from "../core/dynamodb-client.js";
import { Limits } from "../core/protocol.js";
import { type MemberItem, roomTableCreateInput, SortKey } from "../core/room-table.js";
import { startDynamoDbLocal } from "../sandbox/dynamodb-local.js";
import { closeServer } from "../sandbox/server-lifecycle.js";

/** Which local DynamoDB holds the table. */
export type DynamoKind = "dynalite" | "dynamodb-local";

/** A local rooms table with one room, filled with live members on demand. */
export interface RoomTableFixture {
  readonly endpoint: string;
  readonly tableName: string;
  /** The room everyone is in. */
  readonly room: string;
  readonly description: string;
  /** Members of the room now. */
  readonly size: number;
  /** Adds members until the room holds `count` of them. */
  growTo(count: number): Promise<void>;
  close(): Promise<void>;
}

const TABLE_NAME = "bench-rooms";
const ROOM = "bench";
/** BatchWriteItem's limit. */
const BATCH = 25;
/** BatchWrite requests in flight while loading. */
const LOAD_CONCURRENCY = 8;
/** Tries per batch while DynamoDB hands back unprocessed items. */
const BATCH_ATTEMPTS = 10;

/**
 * A local DynamoDB with the rooms table created from `roomTableCreateInput`: dynalite in this process (idle while a
 * child measures) by default, or AWS's DynamoDB Local (Java), started as the sandbox starts it. docs/PERFORMANCE.md
 * says why dynalite is the default: DynamoDB Local loads and pages several times slower here.
 */
export async function startRoomTable(kind: DynamoKind = "dynalite"): Promise<RoomTableFixture> {
  const running = kind === "dynalite" ? await startDynalite() : await startJava();
  const client = createDocumentClient({ endpoint: running.endpoint });
  try {
    await createTable(client);
  } catch (err) {
    client.destroy();
    await running.close();
    throw err;
  }
  let size = 0;
  const now = toEpochSeconds(Date.now());
  return {
    endpoint: running.endpoint,
    tableName: TABLE_NAME,
    room: ROOM,
    description: running.description,
    get size() {
      return size;
    },
    async growTo(count) {
      let next = size;
      const writer = async () => {
        while (next < count) {
          const start = next;
          next = Math.min(count, next + BATCH);
          await writeBatch(
            client,
            Array.from({ length: next - start }, (_, i) => memberItem(start + i, now)),
          );
        }
      };
      await Promise.all(Array.from({ length: LOAD_CONCURRENCY }, writer));
      size = Math.max(size, count);
    },
    async close() {
      client.destroy();
      await running.close();
    },
  };
}

async function startDynalite() {
  // No artificial CREATING delay: the table is usable at once.
  const server: Server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    description: "dynalite (in the bench process)",
    close: () => closeServer(server),
  };
}

async function startJava() {
  const local = await startDynamoDbLocal({ host: "127.0.0.1", startTimeoutMs: 60_000 });
  return { endpoint: local.endpoint, description: "DynamoDB Local (Java)", close: local.close };
}

async function createTable(client: DynamoDBDocumentClient): Promise<void> {
  await client.send(new CreateTableCommand(roomTableCreateInput(TABLE_NAME)));
  for (let tries = 0; tries < 200; tries++) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: TABLE_NAME }));
    if (Table?.TableStatus === "ACTIVE") return;
    await delay(50);
  }
  throw new Error(`table ${TABLE_NAME} did not become ACTIVE`);
}

async function writeBatch(client: DynamoDBDocumentClient, items: MemberItem[]): Promise<void> {
  let requests = items.map((Item) => ({ PutRequest: { Item } }));
  for (let attempt = 1; requests.length > 0; attempt++) {
    if (attempt > BATCH_ATTEMPTS) throw new Error(`BatchWrite left ${requests.length} items unprocessed`);
    const { UnprocessedItems } = await client.send(new BatchWriteCommand({ RequestItems: { [TABLE_NAME]: requests } }));
    requests = (UnprocessedItems?.[TABLE_NAME] ?? []) as typeof requests;
    if (requests.length > 0) await delay(20 * attempt);
  }
}

/**
 * The `index`th member of the room, as `$connect` and `join` store it: an id shaped like API Gateway's (16 base64
 * characters), a user with a name, a session that lasts another hour, a TTL past the 2-hour connection limit.
 */
export function memberItem(index: number, nowSeconds: number): MemberItem {
  const userId = `user-${index}`;
  const connectionId = connectionIdOf(index);
  return {
    room: ROOM,
    sk: SortKey.member(userId, connectionId),
    connectionId,
    userId,
    name: `User ${index}`,
    expiresAt: nowSeconds + 3600,
    ttl: nowSeconds + Limits.maxConnectionSeconds + 300,
  };
}

/** A deterministic API Gateway-shaped connection id (16 characters, base64 alphabet, ending in `=`). */
export const connectionIdOf = (index: number): string =>
  `${Buffer.from(`c${index.toString(36).padStart(10, "0")}`)
    .toString("base64")
    .slice(0, 15)}=`;
