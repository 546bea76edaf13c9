import { type Env, EnvVar } from "../core/env.js";
import { ConfigurationError } from "../core/errors.js";
import { LogLevel } from "../core/logger.js";
import { TokenTransport } from "../core/protocol.js";
import type { AuthOptions } from "./auth-backend.js";
import type { DynamoOptions } from "./dynamo.js";
import type { SandboxOptions } from "./sandbox.js";
import { checkConnectionUri } from "./supertokens-auth.js";

/** Environment variables `npm run dev` reads. */
export const SandboxEnv = {
  Port: "PORT",
  GatewayPort: "GATEWAY_PORT",
  DynamoDb: "DYNAMODB",
  AuthJwksUri: "AUTH_JWKS_URI",
  AuthIssuer: "AUTH_ISSUER",
  SupertokensConnectionUri: "SUPERTOKENS_CONNECTION_URI",
  SupertokensApiKey: "SUPERTOKENS_API_KEY",
  DevTokenTtlSeconds: "DEV_TOKEN_TTL_SECONDS",
  LogLevel: "LOG_LEVEL",
  TokenTransport: "TOKEN_TRANSPORT",
  WebRoot: "WEB_ROOT",
  FanoutWorkers: "FANOUT_WORKERS",
} as const;

/** Handler settings passed through unchanged, so the local chat can be tuned like the deployed one. */
const HANDLER_PASSTHROUGH = [EnvVar.MessageBurst, EnvVar.MessagesPerSecond, EnvVar.FanoutBatchSize] as const;

/** The sandbox's options from the environment; throws a `ConfigurationError` naming the variable at fault. */
export function sandboxOptionsFromEnv(env: Env): SandboxOptions {
  const logLevel = optional(env, SandboxEnv.LogLevel)?.toLowerCase();
  if (logLevel !== undefined && !(logLevel in LogLevel)) {
    throw new ConfigurationError(SandboxEnv.LogLevel, `is "${logLevel}"; use ${Object.keys(LogLevel).join(", ")}`);
  }
  const transport = optional(env, SandboxEnv.TokenTransport);
  if (transport !== undefined && !Object.values<string>(TokenTransport).includes(transport)) {
    throw new ConfigurationError(SandboxEnv.TokenTransport, `is "${transport}"; use query or subprotocol`);
  }
  const handlerEnv = Object.fromEntries(
    HANDLER_PASSTHROUGH.filter((name) => optional(env, name) !== undefined).map((name) => [name, env[name]]),
  );
  const gatewayPort = optional(env, SandboxEnv.GatewayPort);
  const webRoot = optional(env, SandboxEnv.WebRoot);
  const fanoutWorkers = optional(env, SandboxEnv.FanoutWorkers);
  if (fanoutWorkers !== undefined && !/^[1-9]\d{0,3}$/.test(fanoutWorkers)) {
    throw new ConfigurationError(SandboxEnv.FanoutWorkers, `is "${fanoutWorkers}", not a whole number from 1 to 9999`);
  }
  return {
    port: port(env, SandboxEnv.Port) ?? 3000,
    ...(gatewayPort === undefined ? {} : { gatewayPort: port(env, SandboxEnv.GatewayPort) }),
    auth: authOptions(env),
    dynamo: dynamoOptions(env),
    ...(logLevel === undefined ? {} : { logLevel: logLevel as LogLevel }),
    ...(transport === undefined ? {} : { tokenTransport: transport as TokenTransport }),
    ...(webRoot === undefined ? {} : { webRoot }),
    ...(fanoutWorkers === undefined ? {} : { fanoutWorkers: Number(fanoutWorkers) }),
    handlerEnv,
  };
}

function authOptions(env: Env): AuthOptions {
  const jwksUri = optional(env, SandboxEnv.AuthJwksUri);
  const issuer = optional(env, SandboxEnv.AuthIssuer);
  const connectionUri = optional(env, SandboxEnv.SupertokensConnectionUri);
  if ((jwksUri === undefined) !== (issuer === undefined)) {
    const missing = jwksUri === undefined ? SandboxEnv.AuthJwksUri : SandboxEnv.AuthIssuer;
    throw new ConfigurationError(
      missing,
      `must be set together with ${jwksUri === undefined ? SandboxEnv.AuthIssuer : SandboxEnv.AuthJwksUri}`,
    );
  }
  if (jwksUri !== undefined && issuer !== undefined) {
    if (connectionUri !== undefined) {
      throw new ConfigurationError(
        SandboxEnv.SupertokensConnectionUri,
        `cannot be combined with ${SandboxEnv.AuthJwksUri}/${SandboxEnv.AuthIssuer}; choose one issuer`,
      );
    }
    return { kind: "external", jwksUri, issuer };
  }
  if (connectionUri !== undefined) {
    checkConnectionUri(connectionUri);
    const apiKey = optional(env, SandboxEnv.SupertokensApiKey);
    return { kind: "supertokens", connectionUri, ...(apiKey === undefined ? {} : { apiKey }) };
  }
  const ttl = optional(env, SandboxEnv.DevTokenTtlSeconds);
  if (ttl === undefined) return { kind: "development" };
  const seconds = Number(ttl);
  if (!Number.isInteger(seconds) || seconds <= 0) {
    throw new ConfigurationError(SandboxEnv.DevTokenTtlSeconds, `is "${ttl}", not a whole number of seconds above 0`);
  }
  return { kind: "development", tokenTtlSeconds: seconds };
}

function dynamoOptions(env: Env): DynamoOptions {
  const value = optional(env, SandboxEnv.DynamoDb) ?? "dynalite";
  if (value === "dynalite" || value === "dynamodb-local") return { kind: value };
  if (/^https?:\/\//.test(value)) return { kind: "endpoint", endpoint: value };
  throw new ConfigurationError(
    SandboxEnv.DynamoDb,
    `is "${value}"; use dynalite (default), dynamodb-local, or an http(s):// endpoint`,
  );
}

function port(env: Env, name: string): number | undefined {
  const value = optional(env, name);
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0 || parsed > 65535) {
    throw new ConfigurationError(name, `is "${value}", not a port number (0 picks a free one)`);
  }
  return parsed;
}

function optional(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === "" ? undefined : value;
}
