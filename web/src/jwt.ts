/**
 * Reads a JWT's claims without verifying it. The page only needs `exp` to decide when to refresh, and `sub` to notice a
 * token of someone else; the server is the one that verifies, so nothing here is trusted for access decisions.
 */

/** Seconds before expiry at which a token is treated as stale and refreshed before use. */
export const REFRESH_MARGIN_SECONDS = 60;

/** The payload of a JWT, or undefined when the token is not a readable JWT. */
export function decodeJwtPayload(token: string): Record<string, unknown> | undefined {
  const parts = token.split(".");
  if (parts.length !== 3 || !parts[1]) return undefined;
  try {
    const payload: unknown = JSON.parse(base64UrlDecode(parts[1]));
    return typeof payload === "object" && payload !== null && !Array.isArray(payload)
      ? (payload as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** The token's `exp` (epoch seconds), or undefined when it has none or cannot be read. */
export function tokenExpiry(token: string): number | undefined {
  const exp = decodeJwtPayload(token)?.exp;
  return typeof exp === "number" && Number.isFinite(exp) ? exp : undefined;
}

/** The token's `iat` (epoch seconds), or undefined when it has none or cannot be read. */
export function tokenIssuedAt(token: string): number | undefined {
  const iat = decodeJwtPayload(token)?.iat;
  return typeof iat === "number" && Number.isFinite(iat) ? iat : undefined;
}

/** The token's `sub` (the user id), or undefined when it has none or cannot be read. */
export function tokenSubject(token: string): string | undefined {
  const sub = decodeJwtPayload(token)?.sub;
  return typeof sub === "string" && sub !== "" ? sub : undefined;
}

/**
 * The freshness rule: a token is good to open a socket with only if it expires more than `marginSeconds` from now.
 * A token whose expiry cannot be read is treated as stale, so the caller refreshes rather than sends a dud.
 */
export function needsRefresh(token: string, nowMs: number, marginSeconds: number = REFRESH_MARGIN_SECONDS): boolean {
  const exp = tokenExpiry(token);
  return exp === undefined || exp * 1000 - nowMs <= marginSeconds * 1000;
}

function base64UrlDecode(segment: string): string {
  const base64 = segment
    .replace(/-/g, "+")
    .replace(/_/g, "/")
    .padEnd(Math.ceil(segment.length / 4) * 4, "=");
  // atob gives one char per byte; TextDecoder turns the bytes back into UTF-8 text (names may not be ASCII).
  const binary = atob(base64);
  const bytes = Uint8Array.from(binary, (char) => char.charCodeAt(0));
  return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
}
