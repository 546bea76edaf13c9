import type { SQSBatchResponse, SQSEvent } from "aws-lambda";
import { Broadcaster, type BroadcastOptions, onePage, type Recipient } from "../broadcast.js";
import { type ChatService, forgetGoneIn } from "../chat-service.js";
import { systemClock } from "../clock.js";
import type { ConnectionsApi } from "../connections-api.js";
import type { Env } from "../env.js";
import { type FanoutBatch, type FanoutQueue, resendLater } from "../fanout-queue.js";
import { type Logger, loggerFromEnv } from "../logger.js";
import { chatServiceFromEnv, fanoutQueueFromEnv, managementFromEnv } from "./chat-from-env.js";
import type { FromEnvOptions } from "./env-deps.js";

export interface FanoutWorkerDeps {
  /** Cleans up after connections found gone, as the message handler does. */
  chat: Pick<ChatService, "forgetGone">;
  connections: ConnectionsApi;
  logger: Logger;
  broadcast?: BroadcastOptions;
  /** Where sends that failed for a moment go to be made again later. @default none: they count as failed */
  queue?: FanoutQueue;
}

/**
 * Sends the batches the message handler queued. A batch is retried (reported as failed to SQS) only when it could
 * not be worked on at all, since that sends the frame again to everyone in it; sends that failed for a moment are
 * queued again on their own (`resendLater`).
 */
export function createFanoutWorkerHandler({ chat, connections, logger, broadcast, queue }: FanoutWorkerDeps) {
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
        const failed: Recipient[] = [];
        const result = await broadcaster.send({
          recipients: onePage(batch.recipients),
          data: batch.data,
          expiredAt: batch.expiredAt,
          // A resend goes to members read seconds ago: one gone since has likely been cleaned up, its departure
          // told, and its record deleted. Without the room, a record-less connection is not taken for a clean-up
          // that stopped half-way, and its departure is not told again.
          onGone: forgetGoneIn(chat, batch.resend ? undefined : batch.room, batch.silentCleanup),
          onExpired: ({ connectionId }) => connections.close(connectionId),
          onTransientFailure: (recipient) => failed.push(recipient),
        });
        const resent = queue ? await resendLater(queue, batch, failed, logger) : 0;
        logger.info("fan-out batch sent", { messageId: record.messageId, ...result, resent });
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
  const queue = fanoutQueueFromEnv(env, options.fanoutQueue);
  return createFanoutWorkerHandler({
    chat: chatServiceFromEnv(env, {
      api: connections,
      clock: options.clock ?? systemClock,
      logger,
      fanoutQueue: queue,
    }),
    connections,
    logger,
    queue,
  });
}
