import { ConfigurationError } from "./errors.js";

/**
 * Environment variables the handlers read. The stack sets them, the sandbox sets them, and nothing else names them.
 */
export const EnvVar = {
  /** Connections table name. */
  TableName: "CONNECTIONS_TABLE_NAME",
  /** Management (`@connections`) endpoint: `https://{apiId}.execute-api.{region}.amazonaws.com/{stage}`. */
  CallbackUrl: "CALLBACK_URL",
  /** SuperTokens JWKS: `<apiDomain><apiBasePath>/jwt/jwks.json`. */
  JwksUri: "JWKS_URI",
  /** SuperTokens issuer: `<apiDomain><apiBasePath>`. */
  Issuer: "ISSUER",
  /** `debug`, `info`, `warn` or `error`; default `info`. */
  LogLevel: "LOG_LEVEL",
  /** Local runs only: a DynamoDB endpoint such as `http://127.0.0.1:8000`. */
  DynamoDbEndpoint: "DYNAMODB_ENDPOINT",
} as const;

export type Env = Record<string, string | undefined>;

/** Reads a required variable, failing with a message that names it. */
export function requireEnv(env: Env, name: string): string {
  const value = env[name];
  if (value === undefined || value.trim() === "") {
    throw new ConfigurationError(name, "is not set");
  }
  return value;
}
