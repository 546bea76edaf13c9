import type { TokenTransport } from "./protocol.js";
import type { RateLimit } from "./rate-limiter.js";

/**
 * `config.json`, next to the page: how the page finds the socket and the sign-in. The stack writes it at deploy
 * time, the sandbox serves it, the page reads it; all three use this type, so the shape is defined once.
 */

/** SuperTokens' default `apiBasePath`. A SuperTokens token's `iss` is `apiDomain + AUTH_BASE_PATH`. */
export const AUTH_BASE_PATH = "/auth";

/** How the page signs in. */
export interface SiteAuthConfig {
  /** `supertokens` on AWS (and in the sandbox with a SuperTokens core or an external issuer); `development` is the
   * sandbox's sign-in by name, which must never be trusted elsewhere. */
  mode: "development" | "supertokens";
  /** Origin serving the auth routes, e.g. `https://d111111abcdef8.cloudfront.net`. */
  apiDomain: string;
  /** Path of the auth routes on `apiDomain`, normally `AUTH_BASE_PATH`. */
  apiBasePath: string;
}

export interface SiteConfig {
  /** The stage URL, `wss://...`; `ws://127.0.0.1:<port>/<stage>` in the sandbox. */
  webSocketUrl: string;
  /** Where the page puts the token when it opens the socket: the stack's `tokenTransport` setting. */
  tokenTransport: TokenTransport;
  auth: SiteAuthConfig;
  /** Shown in the page's title and header. */
  appName: string;
  /** The server's per-connection token bucket: the page paces its background requests (rejoins, history) by it. */
  rateLimit: RateLimit;
}
