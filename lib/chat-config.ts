import { ConfigurationError } from "../core/errors.js";
import { DEFAULT_FANOUT_BATCH_SIZE } from "../core/fanout.js";
import { Limits, TokenTransport } from "../core/protocol.js";
import { ACCOUNT_BURST_LIMIT, ACCOUNT_RATE_LIMIT, DEFAULT_THROTTLE } from "./chat-websocket-api.js";
import { DEFAULT_MAX_WORKERS } from "./fanout-workers.js";

/** CDK context keys the app reads (`cdk synth -c key=value`, or `context` in cdk.json). */
export const ContextKey = {
  /**
   * Mode (a): the SuperTokens core that the stack's own auth backend (at `<site>/auth`) talks to, e.g.
   * `https://try.supertokens.com`. Tokens are then issued and verified at the site's origin.
   */
  SupertokensConnectionUri: "supertokensConnectionUri",
  /**
   * Mode (a): name of an SSM SecureString parameter, created by you in the stack's account and Region
   * (`aws ssm put-parameter --type SecureString --name /chat/supertokens-api-key --value ...`), holding the core's
   * API key. The function reads it at cold start; the template holds only the name. Required unless
   * `allowCoreWithoutApiKey`.
   */
  SupertokensApiKeyParameter: "supertokensApiKeyParameter",
  /**
   * Mode (a): `true` to run against a core that takes no API key, such as the public demo core. Anyone who can reach
   * such a core can have it sign a session for any user, which this chat would accept: for a try, never for real
   * users. Synth warns when it is set.
   */
  AllowCoreWithoutApiKey: "allowCoreWithoutApiKey",
  /**
   * Mode (b): an existing SuperTokens backend's JWKS URL, `<apiDomain><apiBasePath>/jwt/jwks.json`. No auth backend
   * is deployed; the page signs in at that backend cross-origin, so its CORS settings must allow the site's origin
   * with credentials (`websiteDomain` = the site URL).
   */
  JwksUri: "jwksUri",
  /** An existing SuperTokens backend's issuer (`iss`): `<apiDomain><apiBasePath>`. */
  Issuer: "issuer",
  /** Shown on the page and in SuperTokens' emails. */
  AppName: "appName",
  /** Where the page puts the token at connect: `query` or `subprotocol`. */
  TokenTransport: "tokenTransport",
  /** Messages a connection may send in a burst. */
  MessageBurst: "messageBurst",
  /** Messages per second a connection may sustain. */
  MessagesPerSecond: "messagesPerSecond",
  /** Recipients per fan-out batch: the message handler sends the first batch, workers the rest. */
  FanoutBatchSize: "fanoutBatchSize",
  /** Fan-out workers sending at once. */
  FanoutMaxWorkers: "fanoutMaxWorkers",
  /** Days a message is kept in its room's history before DynamoDB's TTL removes it. */
  HistoryDays: "historyDays",
  /** WebSocket API stage name. */
  StageName: "stageName",
  /** Requests per second each route of the stage accepts from all clients together (API Gateway's throttling). */
  StageRateLimit: "stageRateLimit",
  /** Requests each route of the stage accepts in a burst, from all clients together. */
  StageBurstLimit: "stageBurstLimit",
  /** `false` when the Region's API Gateway CloudWatch role is managed elsewhere. */
  ApiGatewayCloudWatchRole: "apiGatewayCloudWatchRole",
} as const;

const DEPLOY_EXAMPLE =
  "cdk deploy -c supertokensConnectionUri=https://core.example.com -c supertokensApiKeyParameter=/chat/supertokens-api-key";
const DEMO_EXAMPLE =
  "cdk deploy -c supertokensConnectionUri=https://try.supertokens.com -c allowCoreWithoutApiKey=true";
const EXTERNAL_EXAMPLE =
  "cdk deploy -c jwksUri=https://api.example.com/auth/jwt/jwks.json -c issuer=https://api.example.com/auth";
/** The two ways of signing in, for every message about a missing or conflicting auth setting. */
const AUTH_MODES =
  "-c supertokensConnectionUri=<SuperTokens core URL> deploys the SuperTokens backend with the page, or " +
  "-c jwksUri=<...>/auth/jwt/jwks.json -c issuer=<...>/auth uses your existing SuperTokens backend";

/**
 * A fan-out batch is one SQS message: recipients (connection id, expiry and user id: up to about 135 bytes of JSON
 * each) plus the frame, escaped twice, must stay under the queue's 256 KiB. Tested with the longest of each.
 */
export const MAX_FANOUT_BATCH_SIZE = 1500;

/** The stack deploys the SuperTokens backend (supertokens-node on Lambda) at `<site>/auth`. */
export interface SuperTokensAuthConfig {
  readonly kind: "supertokens";
  readonly connectionUri: string;
  /** @default - the core is called without an API key */
  readonly apiKeyParameter?: string;
}

/** Tokens are issued by a SuperTokens backend that runs elsewhere. */
export interface ExternalAuthConfig {
  readonly kind: "external";
  readonly jwksUri: string;
  readonly issuer: string;
}

/** Where access tokens come from. */
export type AuthConfig = SuperTokensAuthConfig | ExternalAuthConfig;

/** Everything the stack takes from outside, validated. */
export interface ChatConfig {
  readonly auth: AuthConfig;
  readonly appName: string;
  readonly tokenTransport: TokenTransport;
  /** The per-connection token bucket. */
  readonly rateLimit: { readonly burst: number; readonly perSecond: number };
  readonly fanoutBatchSize: number;
  /** Fan-out workers sending at once, 2 to 1,000. */
  readonly fanoutMaxWorkers: number;
  /** Days a message is kept (the rooms table's TTL). */
  readonly historyDays: number;
  /** @default - the construct's default, `prod` */
  readonly stageName?: string;
  /** Every route's throttling, shared by all clients; within the account's 10,000 requests/s, burst 5,000. */
  readonly stageThrottle: { readonly rateLimit: number; readonly burstLimit: number };
  /** Whether the stack sets the Region's API Gateway CloudWatch role (WebSocket access logs need one). */
  readonly apiGatewayCloudWatchRole: boolean;
  /** Odd but workable settings, shown as synth warnings. */
  readonly warnings: readonly string[];
}

/** Reads one context value (`(key) => app.node.tryGetContext(key)`). */
export type ContextGetter = (key: string) => unknown;

/** Validates the context; throws a `ConfigurationError` naming the setting and showing an example. */
export function resolveChatConfig(get: ContextGetter): ChatConfig {
  const warnings: string[] = [];
  return {
    auth: resolveAuth(get, warnings),
    appName: optionalString(get, ContextKey.AppName) ?? "Chat",
    tokenTransport: tokenTransport(get),
    rateLimit: {
      burst: positiveInteger(get, ContextKey.MessageBurst, Limits.defaultMessageBurst),
      perSecond: positiveNumber(get, ContextKey.MessagesPerSecond, Limits.defaultMessagesPerSecond),
    },
    fanoutBatchSize: positiveInteger(get, ContextKey.FanoutBatchSize, DEFAULT_FANOUT_BATCH_SIZE, MAX_FANOUT_BATCH_SIZE),
    fanoutMaxWorkers: positiveInteger(get, ContextKey.FanoutMaxWorkers, DEFAULT_MAX_WORKERS, 1000, 2),
    historyDays: positiveInteger(get, ContextKey.HistoryDays, Limits.defaultHistoryDays),
    stageName: optionalString(get, ContextKey.StageName),
    stageThrottle: {
      rateLimit: positiveInteger(get, ContextKey.StageRateLimit, DEFAULT_THROTTLE.rateLimit, ACCOUNT_RATE_LIMIT),
      burstLimit: positiveInteger(get, ContextKey.StageBurstLimit, DEFAULT_THROTTLE.burstLimit, ACCOUNT_BURST_LIMIT),
    },
    apiGatewayCloudWatchRole: optionalBoolean(get, ContextKey.ApiGatewayCloudWatchRole) ?? true,
    warnings,
  };
}

function resolveAuth(get: ContextGetter, warnings: string[]): AuthConfig {
  const connectionUri = optionalString(get, ContextKey.SupertokensConnectionUri);
  const apiKeyParameter = optionalString(get, ContextKey.SupertokensApiKeyParameter);
  const external = [ContextKey.JwksUri, ContextKey.Issuer].filter((key) => optionalString(get, key) !== undefined);

  if (connectionUri !== undefined) {
    if (external.length > 0) {
      fail(
        ContextKey.SupertokensConnectionUri,
        `cannot be combined with ${external.join(" and ")}; choose one: ${AUTH_MODES}`,
        DEPLOY_EXAMPLE,
      );
    }
    for (const uri of connectionUri.split(";")) httpsUrl(ContextKey.SupertokensConnectionUri, uri, DEPLOY_EXAMPLE);
    if (apiKeyParameter !== undefined && !SSM_PARAMETER_NAME.test(apiKeyParameter)) {
      fail(
        ContextKey.SupertokensApiKeyParameter,
        `must be the name of an SSM parameter (letters, digits, _.-/), got ${JSON.stringify(apiKeyParameter)}`,
        DEPLOY_EXAMPLE,
      );
    }
    if (apiKeyParameter === undefined) {
      // The core signs whatever session it is asked for, and the verifier trusts its keys: without a key, anyone
      // who can reach the core can sign in here as anyone.
      if (!optionalBoolean(get, ContextKey.AllowCoreWithoutApiKey)) {
        fail(
          ContextKey.SupertokensApiKeyParameter,
          "is not set: a SuperTokens core that takes no API key lets anyone who can reach it create a session for " +
            "any user, which this chat would accept. Store the core's API key in SSM and name the parameter, or, " +
            "for a try on the public demo core, set allowCoreWithoutApiKey=true",
          `${DEPLOY_EXAMPLE}, or ${DEMO_EXAMPLE}`,
        );
      }
      warnings.push(
        `${ContextKey.AllowCoreWithoutApiKey}: the SuperTokens core takes no API key, so anyone who can reach it can ` +
          "sign in to this chat as anyone. For a try only.",
      );
      return { kind: "supertokens", connectionUri };
    }
    return { kind: "supertokens", connectionUri, apiKeyParameter };
  }
  if (apiKeyParameter !== undefined) {
    fail(
      ContextKey.SupertokensApiKeyParameter,
      "needs supertokensConnectionUri: it is the API key of that SuperTokens core",
      DEPLOY_EXAMPLE,
    );
  }
  if (external.length === 0) {
    fail(ContextKey.SupertokensConnectionUri, `or jwksUri and issuer must be set: ${AUTH_MODES}`, DEMO_EXAMPLE);
  }

  const jwksUri = httpsUrl(ContextKey.JwksUri, optionalString(get, ContextKey.JwksUri), EXTERNAL_EXAMPLE);
  const issuer = httpsUrl(ContextKey.Issuer, optionalString(get, ContextKey.Issuer), EXTERNAL_EXAMPLE);
  // The verifier compares `iss` exactly, and SuperTokens normalises it (lower-case host, no default port or slash).
  const { origin, pathname } = new URL(issuer);
  const normalised = origin + pathname.replace(/\/+$/, "");
  if (issuer !== normalised) {
    fail(ContextKey.Issuer, `must be written as SuperTokens writes the token's iss claim: ${normalised}`);
  }
  if (jwksUri !== `${issuer}/jwt/jwks.json`) {
    warnings.push(`${ContextKey.JwksUri} is not ${issuer}/jwt/jwks.json, where SuperTokens serves its keys`);
  }
  return { kind: "external", jwksUri, issuer };
}

const SSM_PARAMETER_NAME = /^[A-Za-z0-9_.\-/]{1,1011}$/;

function fail(setting: string, problem: string, example = EXTERNAL_EXAMPLE): never {
  throw new ConfigurationError(setting, problem, example);
}

function httpsUrl(key: string, value: string | undefined, example: string): string {
  if (value === undefined) fail(key, "is not set (jwksUri and issuer go together)", example);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    fail(key, `is not a URL: ${JSON.stringify(value)}`, example);
  }
  // The verifier fetches keys over https only, and an API key must not cross the Internet in the clear.
  if (url.protocol !== "https:") fail(key, `must be an https:// URL, got ${url.protocol}//`, example);
  return value;
}

function tokenTransport(get: ContextGetter): TokenTransport {
  const value = optionalString(get, ContextKey.TokenTransport) ?? TokenTransport.Query;
  const allowed: string[] = Object.values(TokenTransport);
  if (!allowed.includes(value)) {
    fail(
      ContextKey.TokenTransport,
      `must be ${allowed.join(" or ")}, got ${JSON.stringify(value)}`,
      `cdk deploy -c tokenTransport=${TokenTransport.Subprotocol}`,
    );
  }
  return value as TokenTransport;
}

function optionalString(get: ContextGetter, key: string): string | undefined {
  const value = get(key);
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") fail(key, `must be a string, got ${JSON.stringify(value)}`);
  return value.trim() || undefined;
}

/** `-c key=2` arrives as the string "2"; cdk.json can hold a real number. */
function optionalNumber(get: ContextGetter, key: string, fallback: number, rule: string): number {
  const value = get(key);
  if (value === undefined || value === null || (typeof value === "string" && value.trim() === "")) return fallback;
  const parsed = typeof value === "number" ? value : typeof value === "string" ? Number(value) : Number.NaN;
  if (!Number.isFinite(parsed))
    fail(key, `must be ${rule}, got ${JSON.stringify(value)}`, `cdk deploy -c ${key}=${fallback}`);
  return parsed;
}

function positiveNumber(get: ContextGetter, key: string, fallback: number): number {
  const rule = "a positive number";
  const value = optionalNumber(get, key, fallback, rule);
  if (!(value > 0)) fail(key, `must be ${rule}, got ${value}`, `cdk deploy -c ${key}=${fallback}`);
  return value;
}

function positiveInteger(
  get: ContextGetter,
  key: string,
  fallback: number,
  max = Number.MAX_SAFE_INTEGER,
  min = 1,
): number {
  const rule =
    max === Number.MAX_SAFE_INTEGER ? `a whole number, ${min} or more` : `a whole number from ${min} to ${max}`;
  const value = optionalNumber(get, key, fallback, rule);
  if (!Number.isInteger(value) || value < min || value > max) {
    fail(key, `must be ${rule}, got ${value}`, `cdk deploy -c ${key}=${fallback}`);
  }
  return value;
}

/** `-c key=false` arrives as the string "false"; cdk.json can hold a real boolean. */
function optionalBoolean(get: ContextGetter, key: string): boolean | undefined {
  const value = get(key);
  if (value === undefined || value === true || value === false) return value;
  if (value === "true" || value === "false") return value === "true";
  fail(key, `must be true or false, got ${JSON.stringify(value)}`);
}
