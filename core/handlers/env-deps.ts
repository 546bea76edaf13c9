import { createDocumentClient } from "../aws-clients.js";
import type { Clock } from "../clock.js";
import { ConnectionStore } from "../connection-store.js";
import { type Env, EnvVar, requireEnv } from "../env.js";
import { Logger, parseLogLevel } from "../logger.js";

/** Collaborators built from the environment, the same way in Lambda and in the sandbox. */
export const loggerFromEnv = (env: Env): Logger => new Logger({ level: parseLogLevel(env[EnvVar.LogLevel]) });

export const storeFromEnv = (env: Env, clock: Clock): ConnectionStore =>
  new ConnectionStore(
    createDocumentClient({ endpoint: env[EnvVar.DynamoDbEndpoint] }),
    requireEnv(env, EnvVar.TableName),
    clock,
  );

/** Overrides a caller (the sandbox, a test) may pass to a `*FromEnv` factory. */
export interface FromEnvOptions {
  logger?: Logger;
  clock?: Clock;
}
