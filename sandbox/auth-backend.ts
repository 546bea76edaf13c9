import type { KeyObject } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Clock } from "../core/clock.js";
import { AUTH_BASE_PATH, type SiteAuthConfig } from "../core/site-config.js";
import { createDevAuth } from "./dev-auth.js";
import type { DevIssuer } from "./dev-issuer.js";
import { createExternalAuth } from "./external-auth.js";
import { checkConnectionUri, createSuperTokensAuth } from "./supertokens-auth.js";

/** Where tokens come from. */
export type AuthOptions =
  /** The built-in development issuer (the default). */
  | {
      kind: "development";
      /** @default 3600 */
      tokenTtlSeconds?: number;
      /** RSA private key to sign with; tests that start many sandboxes pass one to skip key generation. @default a new one */
      signingKey?: KeyObject;
    }
  /** An issuer elsewhere, trusted exactly as the stack's `jwksUri`/`issuer` context values make it trusted. */
  | { kind: "external"; jwksUri: string; issuer: string }
  /**
   * The real supertokens-node backend at `/auth/*` against a SuperTokens core. One sandbox per process in this mode:
   * supertokens-node keeps its settings process-wide.
   */
  | { kind: "supertokens"; connectionUri: string; apiKey?: string };

/**
 * One way of signing people in. The page server hands it requests under `/auth`; the authorizer is configured with
 * its `issuer` and `jwksUri`.
 */
export interface AuthBackend {
  readonly issuer: string;
  readonly jwksUri: string;
  readonly webConfig: SiteAuthConfig;
  /** Present for the development issuer, so tests can sign tokens with chosen claims. */
  readonly devIssuer?: DevIssuer;
  /** Serves `req` if it is one of the backend's routes; resolves false otherwise. */
  handle(req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean>;
  /** Lines for the start banner: what is trusted, and a warning where due. Never a secret. */
  describe(): string[];
}

/** What every backend is told about the sandbox it runs in. */
export interface AuthContext {
  /** The page server's origin, where `/auth/*` is served. */
  pageOrigin: string;
  appName: string;
  clock: Clock;
}

/**
 * Fails fast, before anything starts, on auth settings that cannot work: an external JWKS that is not https (or
 * loopback http), URLs that are not URLs.
 */
export function checkAuthOptions(options: AuthOptions): void {
  if (options.kind === "external") createExternalAuth(options);
  if (options.kind === "supertokens") checkConnectionUri(options.connectionUri);
}

/**
 * @param signingKey the development issuer's key, when its generation was started early (it takes a few hundred ms)
 */
export async function createAuthBackend(
  options: AuthOptions,
  context: AuthContext,
  signingKey?: Promise<KeyObject>,
): Promise<AuthBackend> {
  switch (options.kind) {
    case "development":
      return createDevAuth({
        pageOrigin: context.pageOrigin,
        basePath: AUTH_BASE_PATH,
        tokenTtlSeconds: options.tokenTtlSeconds,
        privateKey: await (signingKey ?? options.signingKey),
        clock: context.clock,
      });
    case "external":
      return createExternalAuth(options);
    case "supertokens":
      return createSuperTokensAuth({
        connectionUri: options.connectionUri,
        apiKey: options.apiKey,
        pageOrigin: context.pageOrigin,
        appName: context.appName,
      });
  }
}
