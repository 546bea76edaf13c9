import type { SQSBatchResponse, SQSEvent } from "aws-lambda";
import { Broadcaster, type BroadcastOptions, onePage } from "../broadcast.js";
import { type ChatService, forgetGoneIn } from "../chat-service.js";
import { systemClock } from "../clock.js";
import type { ConnectionsApi } from "../connections-api.js";
import type { Env } from "../env.js";
import type { FanoutBatch } from "../fanout-queue.js";
import { type Logger, loggerFromEnv } from "../logger.js";
import { chatServiceFromEnv, managementFromEnv } from "./chat-from-env.js";
import type { FromEnvOptions } from "./env-deps.js";

export interface FanoutWorkerDeps {
  /** Cleans up after connections found gone, as the message handler does. */
  chat: Pick<ChatService, "forgetGone">;
  connections: ConnectionsApi;
  logger: Logger;
  broadcast?: BroadcastOptions;
}

/**
 * Sends the batches the message handler queued. A batch is retried (reported as failed to SQS) only when it could
 * not be worked on at all; per-connection failures are the broadcaster's to count, since a retry would send the
 * frame twice to everyone else in the batch.
 */
export function createFanoutWorkerHandler({ chat, connections, logger, broadcast }: FanoutWorkerDeps) {
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
          onGone: forgetGoneIn(chat, batch.room, batch.silentCleanup),
          onExpired: ({ connectionId }) => connections.close(connectionId),
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
  const logger = options.logger ?? loggerFromEnv(env);
  const connections = managementFromEnv(env);
  return createFanoutWorkerHandler({
    chat: chatServiceFromEnv(env, {
      api: connections,
      clock: options.clock ?? systemClock,
      logger,
      fanoutQueue: options.fanoutQueue,
    }),
    connections,
    logger,
  });
}
