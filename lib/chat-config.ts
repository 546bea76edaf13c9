import { ConfigurationError } from "../core/errors.js";

/** CDK context keys the app reads (`cdk synth -c key=value`, or `context` in cdk.json). */
export const ContextKey = {
  /** SuperTokens JWKS URL: `<apiDomain><apiBasePath>/jwt/jwks.json`. */
  JwksUri: "jwksUri",
  /** SuperTokens issuer (`iss`): `<apiDomain><apiBasePath>`. */
  Issuer: "issuer",
  /** WebSocket API stage name. */
  StageName: "stageName",
  /** `false` when the Region's API Gateway CloudWatch role is managed elsewhere. */
  ApiGatewayCloudWatchRole: "apiGatewayCloudWatchRole",
} as const;

const EXAMPLE =
  "cdk synth -c jwksUri=https://api.example.com/auth/jwt/jwks.json -c issuer=https://api.example.com/auth";

/** Tokens are issued by a SuperTokens backend that runs elsewhere. */
export interface ExternalAuthConfig {
  readonly kind: "external";
  readonly jwksUri: string;
  readonly issuer: string;
}

/** Where access tokens come from. A later issue adds an in-stack SuperTokens backend (`supertokensConnectionUri`). */
export type AuthConfig = ExternalAuthConfig;

/**
 * Everything the stack takes from outside, validated. Later features (web hosting, fan-out worker) add optional
 * sections here, each read from its own context keys.
 */
export interface ChatConfig {
  readonly auth: AuthConfig;
  /** @default - the construct's default, `prod` */
  readonly stageName?: string;
  /** Whether the stack sets the Region's API Gateway CloudWatch role (WebSocket access logs need one). */
  readonly apiGatewayCloudWatchRole: boolean;
  /** Odd but workable settings, shown as synth warnings. */
  readonly warnings: readonly string[];
}

/** Reads one context value (`(key) => app.node.tryGetContext(key)`). */
export type ContextGetter = (key: string) => unknown;

/** Validates the context; throws a `ConfigurationError` naming the setting and showing an example. */
export function resolveChatConfig(get: ContextGetter): ChatConfig {
  const jwksUri = httpsUrl(get, ContextKey.JwksUri);
  const issuer = httpsUrl(get, ContextKey.Issuer);

  // The verifier compares `iss` exactly, and SuperTokens normalises it (lower-case host, no default port or slash).
  const { origin, pathname } = new URL(issuer);
  const normalised = origin + pathname.replace(/\/+$/, "");
  if (issuer !== normalised) {
    fail(ContextKey.Issuer, `must be written as SuperTokens writes the token's iss claim: ${normalised}`);
  }

  const warnings: string[] = [];
  if (jwksUri !== `${issuer}/jwt/jwks.json`) {
    warnings.push(`${ContextKey.JwksUri} is not ${issuer}/jwt/jwks.json, where SuperTokens serves its keys`);
  }

  return {
    auth: { kind: "external", jwksUri, issuer },
    stageName: optionalString(get, ContextKey.StageName),
    apiGatewayCloudWatchRole: optionalBoolean(get, ContextKey.ApiGatewayCloudWatchRole) ?? true,
    warnings,
  };
}

function fail(setting: string, problem: string): never {
  throw new ConfigurationError(setting, problem, EXAMPLE);
}

function httpsUrl(get: ContextGetter, key: string): string {
  const value = optionalString(get, key);
  if (value === undefined) fail(key, "is not set: pass it as CDK context");
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    fail(key, `is not a URL: ${JSON.stringify(value)}`);
  }
  if (url.protocol !== "https:") fail(key, `must be an https:// URL, got ${url.protocol}//`);
  return value;
}

function optionalString(get: ContextGetter, key: string): string | undefined {
  const value = get(key);
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") fail(key, `must be a string, got ${JSON.stringify(value)}`);
  return value.trim() || undefined;
}

/** `-c key=false` arrives as the string "false"; cdk.json can hold a real boolean. */
function optionalBoolean(get: ContextGetter, key: string): boolean | undefined {
  const value = get(key);
  if (value === undefined || value === true || value === false) return value;
  if (value === "true" || value === "false") return value === "true";
  fail(key, `must be true or false, got ${JSON.stringify(value)}`);
}
