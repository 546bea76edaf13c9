import type { SQSBatchResponse, SQSEvent } from "aws-lambda";
import { createManagementClient } from "../aws-clients.js";
import { Broadcaster, type BroadcastOptions, onePage } from "../broadcast.js";
import { systemClock } from "../clock.js";
import type { ConnectionStore } from "../connection-store.js";
import { type ConnectionsApi, ManagementApiConnections } from "../connections-api.js";
import { type Env, EnvVar, requireEnv } from "../env.js";
import type { FanoutBatch } from "../fanout-queue.js";
import type { Logger } from "../logger.js";
import { type FromEnvOptions, loggerFromEnv, storeFromEnv } from "./env-deps.js";

export interface FanoutWorkerDeps {
  store: Pick<ConnectionStore, "delete">;
  connections: ConnectionsApi;
  logger: Logger;
  broadcast?: BroadcastOptions;
}

/**
 * Sends the batches the message handler queued. A batch is retried (reported as failed to SQS) only when it could
 * not be worked on at all; per-connection failures are the broadcaster's to count, since a retry would send the
 * frame twice to everyone else in the batch.
 */
export function createFanoutWorkerHandler({ store, connections, logger, broadcast }: FanoutWorkerDeps) {
  const broadcaster = new Broadcaster(connections, logger, broadcast);
  return async (event: SQSEvent): Promise<SQSBatchResponse> => {
    const batchItemFailures: SQSBatchResponse["batchItemFailures"] = [];
    for (const record of event.Records) {
      let batch: FanoutBatch;
      try {
        batch = JSON.parse(record.body) as FanoutBatch;
        if (typeof batch.data !== "string" || !Array.isArray(batch.recipients)) throw new TypeError("not a batch");
      } catch (err) {
        logger.error("dropping a malformed fan-out batch", { messageId: record.messageId, error: err });
        continue;
      }
      try {
        const result = await broadcaster.send({
          recipients: onePage(batch.recipients),
          data: batch.data,
          expiredAt: batch.expiredAt,
          onGone: (id) => store.delete(id),
          onExpired: (id) => connections.close(id),
        });
        logger.info("fan-out batch sent", { messageId: record.messageId, ...result });
      } catch (err) {
        logger.error("fan-out batch failed", { messageId: record.messageId, error: err });
        batchItemFailures.push({ itemIdentifier: record.messageId });
      }
    }
    return { batchItemFailures };
  };
}

export function fanoutWorkerFromEnv(env: Env, options: FromEnvOptions = {}) {
  return createFanoutWorkerHandler({
    store: storeFromEnv(env, options.clock ?? systemClock),
    connections: new ManagementApiConnections(
      createManagementClient({ endpoint: requireEnv(env, EnvVar.CallbackUrl) }),
    ),
    logger: options.logger ?? loggerFromEnv(env),
  });
}
