import { SQSClient } from "@aws-sdk/client-sqs";
import { createDocumentClient, createManagementClient } from "../aws-clients.js";
import { ChatService } from "../chat-service.js";
import type { Clock } from "../clock.js";
import { ConnectionStore } from "../connection-store.js";
import { ManagementApiConnections } from "../connections-api.js";
import { type Env, EnvVar, numberEnv, requireEnv } from "../env.js";
import { DEFAULT_FANOUT_BATCH_SIZE } from "../fanout.js";
import { type FanoutQueue, SqsFanoutQueue } from "../fanout-queue.js";
import { Logger, parseLogLevel } from "../logger.js";
import { Limits } from "../protocol.js";
import { RoomStore } from "../room-store.js";
import type { TokenVerifier } from "../token-verifier.js";

/** Collaborators built from the environment, the same way in Lambda and in the sandbox. */
export const loggerFromEnv = (env: Env): Logger => new Logger({ level: parseLogLevel(env[EnvVar.LogLevel]) });

export const storeFromEnv = (env: Env, clock: Clock): ConnectionStore =>
  new ConnectionStore(documentClientFromEnv(env), requireEnv(env, EnvVar.TableName), clock);

export const roomsFromEnv = (env: Env, clock: Clock): RoomStore =>
  new RoomStore(documentClientFromEnv(env), requireEnv(env, EnvVar.RoomsTableName), clock);

const documentClientFromEnv = (env: Env) => createDocumentClient({ endpoint: env[EnvVar.DynamoDbEndpoint] });

export const managementFromEnv = (env: Env) =>
  new ManagementApiConnections(createManagementClient({ endpoint: requireEnv(env, EnvVar.CallbackUrl) }));

/** The chat service wired from the environment; `verifier` only where `refresh` is served. */
export function chatServiceFromEnv(
  env: Env,
  options: { clock: Clock; logger: Logger; verifier?: Pick<TokenVerifier, "verify">; fanoutQueue?: FanoutQueue },
): ChatService {
  const queueUrl = env[EnvVar.FanoutQueueUrl];
  return new ChatService({
    connections: storeFromEnv(env, options.clock),
    rooms: roomsFromEnv(env, options.clock),
    api: managementFromEnv(env),
    clock: options.clock,
    logger: options.logger,
    verifier: options.verifier,
    rateLimit: {
      burst: numberEnv(env, EnvVar.MessageBurst, Limits.defaultMessageBurst),
      perSecond: numberEnv(env, EnvVar.MessagesPerSecond, Limits.defaultMessagesPerSecond),
    },
    historyDays: numberEnv(env, EnvVar.HistoryDays, Limits.defaultHistoryDays),
    fanoutQueue: options.fanoutQueue ?? (queueUrl ? new SqsFanoutQueue(new SQSClient({}), queueUrl) : undefined),
    fanout: { batchSize: numberEnv(env, EnvVar.FanoutBatchSize, DEFAULT_FANOUT_BATCH_SIZE) },
  });
}

/** Overrides a caller (the sandbox, a test) may pass to a `*FromEnv` factory. */
export interface FromEnvOptions {
  logger?: Logger;
  clock?: Clock;
  /** The sandbox's in-process fan-out workers, in place of SQS. */
  fanoutQueue?: FanoutQueue;
}
