import { setTimeout as delay } from "node:timers/promises";
import { BatchWriteCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { toEpochSeconds } from "../core/clock.js";
import { Limits } from "../core/protocol.js";
import { type MemberItem, SortKey } from "../core/room-table.js";
import { startDynamo } from "../sandbox/dynamo.js";

/** Which local DynamoDB holds the table. */
export type DynamoKind = "dynalite" | "dynamodb-local";

/** A local rooms table with one room, filled with live members on demand. */
export interface RoomTableFixture {
  readonly endpoint: string;
  readonly tableName: string;
  /** The room everyone is in. */
  readonly room: string;
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
 * A local DynamoDB with the chat's tables, started as the sandbox starts it: dynalite in this process (idle while a
 * child measures) by default, or AWS's DynamoDB Local (Java). docs/PERFORMANCE.md
 * says why dynalite is the default: DynamoDB Local loads and pages several times slower here.
 */
export async function startRoomTable(kind: DynamoKind = "dynalite"): Promise<RoomTableFixture> {
  // The sandbox's own start-up: the stack's table definitions, dynalite in this process or DynamoDB Local.
  const dynamo = await startDynamo(
    kind === "dynalite" ? { kind } : { kind, startTimeoutMs: 60_000 },
    { connections: "bench-connections", rooms: TABLE_NAME },
    "127.0.0.1",
  );
  const { client } = dynamo;
  let size = 0;
  const now = toEpochSeconds(Date.now());
  return {
    endpoint: dynamo.endpoint,
    tableName: TABLE_NAME,
    room: ROOM,
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
    close: () => dynamo.close(),
  };
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
function memberItem(index: number, nowSeconds: number): MemberItem {
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
