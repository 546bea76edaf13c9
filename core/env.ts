import { ConfigurationError } from "./errors.js";

/**
 * Environment variables the handlers read. The stack sets them, the sandbox sets them, and nothing else names them.
 */
export const EnvVar = {
  /** Connections table name. */
  TableName: "CONNECTIONS_TABLE_NAME",
  /** Rooms table name: memberships, history, message counters. */
  RoomsTableName: "ROOMS_TABLE_NAME",
  /** Days a message is kept; default `Limits.defaultHistoryDays`. */
  HistoryDays: "HISTORY_DAYS",
  /** Management (`@connections`) endpoint: `https://{apiId}.execute-api.{region}.amazonaws.com/{stage}`. */
  CallbackUrl: "CALLBACK_URL",
  /** SuperTokens JWKS: `<apiDomain><apiBasePath>/jwt/jwks.json`. */
  JwksUri: "JWKS_URI",
  /** SuperTokens issuer: `<apiDomain><apiBasePath>`. */
  Issuer: "ISSUER",
  /** `debug`, `info`, `warn` or `error`; default `info`. */
  LogLevel: "LOG_LEVEL",
  /** Token bucket size per connection; default `Limits.defaultMessageBurst`. */
  MessageBurst: "MESSAGE_BURST",
  /** Token bucket refill per connection, messages per second; default `Limits.defaultMessagesPerSecond`. */
  MessagesPerSecond: "MESSAGES_PER_SECOND",
  /** The fan-out workers' SQS queue; unset, every broadcast is sent by the message handler itself. */
  FanoutQueueUrl: "FANOUT_QUEUE_URL",
  /** Recipients per fan-out batch; default 1000. */
  FanoutBatchSize: "FANOUT_BATCH_SIZE",
  /** Local runs only: a DynamoDB endpoint such as `http://127.0.0.1:8000`. */
  DynamoDbEndpoint: "DYNAMODB_ENDPOINT",
} as const;

export type Env = Record<string, string | undefined>;

/** Reads an optional positive number, failing with a message that names the variable when it is not one. */
export function numberEnv(env: Env, name: string, fallback: number): number {
  const value = env[name];
  if (value === undefined || value.trim() === "") return fallback;
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed <= 0)
    throw new ConfigurationError(name, `is "${value}", not a positive number`);
  return parsed;
}

/** Reads a required variable, failing with a message that names it. */
export function requireEnv(env: Env, name: string): string {
  const value = env[name];
  if (value === undefined || value.trim() === "") {
    throw new ConfigurationError(name, "is not set");
  }
  return value;
}
