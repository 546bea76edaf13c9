import { needsRefresh } from "../jwt.js";

export interface FreshTokenSource {
  /** The current token, or undefined when signed out. */
  read(): Promise<string | undefined>;
  /** Renews the session; false when there is no session left to renew. */
  refresh(): Promise<boolean>;
  now?: () => number;
}

/**
 * The token-freshness rule shared by both auth methods. SuperTokens' `getAccessToken()` refreshes only a token that has
 * already expired, so one it returns may die a second after the socket opens; a token that expires within the margin
 * (or cannot be read, or the server just refused) is refreshed first and read again.
 */
export async function getFreshToken(source: FreshTokenSource, force = false): Promise<string | undefined> {
  const now = source.now ?? Date.now;
  const token = await source.read();
  if (token === undefined) return undefined;
  if (!force && !needsRefresh(token, now())) return token;
  if (!(await source.refresh())) return undefined;
  // A server configured with tokens shorter than the margin would refresh forever: take what the refresh gave.
  return source.read();
}
