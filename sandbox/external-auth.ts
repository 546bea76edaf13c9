import { ConfigurationError } from "../core/errors.js";
import { isLoopbackUrl } from "../core/jwks-fetcher.js";
import type { AuthBackend } from "./auth-backend.js";

const EXAMPLE = "AUTH_JWKS_URI=https://api.example.com/auth/jwt/jwks.json AUTH_ISSUER=https://api.example.com/auth";

/**
 * Trusts an issuer that runs elsewhere, as the deployed stack does. The page is told to sign in with SuperTokens
 * at the issuer (SuperTokens' `iss` is its `apiDomain + apiBasePath`). The JWKS must be https, or http on a
 * loopback address: the sandbox fetches nothing else in the clear.
 */
export function createExternalAuth(options: { jwksUri: string; issuer: string }): AuthBackend {
  const jwks = parseUrl("AUTH_JWKS_URI", options.jwksUri);
  if (jwks.protocol !== "https:" && !(jwks.protocol === "http:" && isLoopbackUrl(jwks))) {
    throw new ConfigurationError("AUTH_JWKS_URI", "must be https:// (or http:// on a loopback address)", EXAMPLE);
  }
  const issuer = parseUrl("AUTH_ISSUER", options.issuer);
  return {
    issuer: options.issuer,
    jwksUri: options.jwksUri,
    webConfig: { mode: "supertokens", apiDomain: issuer.origin, apiBasePath: issuer.pathname.replace(/\/+$/, "") },
    handle: async () => false,
    describe: () => [`External issuer ${options.issuer}, keys from ${options.jwksUri}`],
  };
}

function parseUrl(setting: string, value: string): URL {
  try {
    return new URL(value);
  } catch {
    throw new ConfigurationError(setting, `is not a URL: ${JSON.stringify(value)}`, EXAMPLE);
  }
}
