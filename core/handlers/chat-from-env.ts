import { SQSClient } from "@aws-sdk/client-sqs";
import { ChatService } from "../chat-service.js";
import type { Clock } from "../clock.js";
import type { ConnectionsApi } from "../connections-api.js";
import { type Env, EnvVar, numberEnv, requireEnv } from "../env.js";
import { DEFAULT_FANOUT_BATCH_SIZE } from "../fanout.js";
import { type FanoutQueue, SqsFanoutQueue } from "../fanout-queue.js";
import type { Logger } from "../logger.js";
import { createManagementConnections } from "../management-client.js";
import { Limits } from "../protocol.js";
import type { RateLimit } from "../rate-limiter.js";
import type { TokenVerifier } from "../token-verifier.js";
import { storesFromEnv } from "./env-deps.js";

/** The per-connection token bucket from `MESSAGE_BURST` and `MESSAGES_PER_SECOND`, or the protocol's defaults. */
export const rateLimitFromEnv = (env: Env): RateLimit => ({
  burst: numberEnv(env, EnvVar.MessageBurst, Limits.defaultMessageBurst),
  perSecond: numberEnv(env, EnvVar.MessagesPerSecond, Limits.defaultMessagesPerSecond),
});

export const managementFromEnv = (env: Env) =>
  createManagementConnections({ endpoint: requireEnv(env, EnvVar.CallbackUrl) });

/** The fan-out queue: `queue` if given, else the SQS queue at `FANOUT_QUEUE_URL`, else none. */
export const fanoutQueueFromEnv = (env: Env, queue?: FanoutQueue): FanoutQueue | undefined => {
  const queueUrl = env[EnvVar.FanoutQueueUrl];
  return queue ?? (queueUrl ? new SqsFanoutQueue(new SQSClient({}), queueUrl) : undefined);
};

/**
 * The chat service wired from the environment; `verifier` only where `refresh` is served. `api` is the handler's own
 * `managementFromEnv(env)`, shared so that a Lambda holds one management client and one socket pool.
 */
export function chatServiceFromEnv(
  env: Env,
  options: {
    api: ConnectionsApi;
    clock: Clock;
    logger: Logger;
    verifier?: Pick<TokenVerifier, "verify">;
    fanoutQueue?: FanoutQueue;
  },
): ChatService {
  return new ChatService({
    ...storesFromEnv(env, options.clock),
    api: options.api,
    clock: options.clock,
    logger: options.logger,
    verifier: options.verifier,
    rateLimit: rateLimitFromEnv(env),
    historyDays: numberEnv(env, EnvVar.HistoryDays, Limits.defaultHistoryDays),
    fanoutQueue: fanoutQueueFromEnv(env, options.fanoutQueue),
    fanout: { batchSize: numberEnv(env, EnvVar.FanoutBatchSize, DEFAULT_FANOUT_BATCH_SIZE) },
  });
}
