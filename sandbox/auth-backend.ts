import type { KeyObject } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Clock } from "../core/clock.js";
import { createDevAuth } from "./dev-auth.js";
import type { DevIssuer } from "./dev-issuer.js";
import { UnsupportedModeError } from "./errors.js";
import { createExternalAuth } from "./external-auth.js";

/** SuperTokens' default `apiBasePath`; the dev issuer serves its routes under it too. */
export const AUTH_BASE_PATH = "/auth";

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
  /** The real supertokens-node backend at `/auth/*` against a SuperTokens core. Not built yet. */
  | { kind: "supertokens"; connectionUri: string; apiKey?: string };

/** The `auth` section of `/config.json`; the same shape on AWS, where `mode` is `supertokens`. */
export interface WebAuthConfig {
  mode: "development" | "supertokens";
  apiDomain: string;
  apiBasePath: string;
}

/**
 * One way of signing people in. The page server hands it requests under `/auth`; the authorizer is configured with
 * its `issuer` and `jwksUri`. The real SuperTokens backend plugs in here as a third implementation.
 */
export interface AuthBackend {
  readonly issuer: string;
  readonly jwksUri: string;
  readonly webConfig: WebAuthConfig;
  /** Present for the development issuer, so tests can sign tokens with chosen claims. */
  readonly devIssuer?: DevIssuer;
  /** Serves `req` if it is one of the backend's routes; resolves false otherwise. */
  handle(req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean>;
  /** Lines for the start banner: what is trusted, and a warning where due. */
  describe(): string[];
}

/**
 * Fails fast, before anything starts, on auth settings that cannot work: the SuperTokens backend that does not
 * exist yet, an external JWKS that is not https (or loopback http), URLs that are not URLs.
 */
export function checkAuthOptions(options: AuthOptions): void {
  if (options.kind === "supertokens") {
    throw new UnsupportedModeError(
      "SUPERTOKENS_CONNECTION_URI",
      "running the real SuperTokens backend arrives with the auth backend issue; until then unset it and use " +
        "the development issuer (default) or AUTH_JWKS_URI/AUTH_ISSUER",
    );
  }
  if (options.kind === "external") createExternalAuth(options);
}

/**
 * @param signingKey the development issuer's key, when its generation was started early (it takes a few hundred ms)
 */
export async function createAuthBackend(
  options: AuthOptions,
  pageOrigin: string,
  clock: Clock,
  signingKey?: Promise<KeyObject>,
): Promise<AuthBackend> {
  switch (options.kind) {
    case "development":
      return createDevAuth({
        pageOrigin,
        basePath: AUTH_BASE_PATH,
        tokenTtlSeconds: options.tokenTtlSeconds,
        privateKey: await (signingKey ?? options.signingKey),
        clock,
      });
    case "external":
      return createExternalAuth(options);
    case "supertokens":
      checkAuthOptions(options);
      throw new UnsupportedModeError("SUPERTOKENS_CONNECTION_URI", "not built yet");
  }
}
