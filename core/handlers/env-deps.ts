import type { Clock } from "../clock.js";
import { ConnectionStore } from "../connection-store.js";
import { createDocumentClient } from "../dynamodb-client.js";
import { type Env, EnvVar, requireEnv } from "../env.js";
import type { FanoutQueue } from "../fanout-queue.js";
import type { Logger } from "../logger.js";
import { RoomStore } from "../room-store.js";

/**
 * The stores built from the environment, the same way in Lambda and in the sandbox. Kept apart from the chat
 * service's wiring (chat-from-env.ts) so that `$connect` bundles no management API or SQS client.
 */
export function storesFromEnv(env: Env, clock: Clock): { connections: ConnectionStore; rooms: RoomStore } {
  // One client, so one connection pool and one TLS handshake serve both tables.
  const client = createDocumentClient({ endpoint: env[EnvVar.DynamoDbEndpoint] });
  return {
    connections: new ConnectionStore(client, requireEnv(env, EnvVar.TableName), clock),
    rooms: new RoomStore(client, requireEnv(env, EnvVar.RoomsTableName), clock),
  };
}

/** Overrides a caller (the sandbox, a test) may pass to a `*FromEnv` factory. */
export interface FromEnvOptions {
  logger?: Logger;
  clock?: Clock;
  /** The sandbox's in-process fan-out workers, in place of SQS. */
  fanoutQueue?: FanoutQueue;
}
