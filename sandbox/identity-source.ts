import { ConfigurationError } from "../core/errors.js";

/** Where the `$connect` authorizer's identity comes from, parsed from API Gateway's identity source syntax. */
export type IdentitySource = { kind: "querystring"; name: string } | { kind: "header"; name: string };

const QUERY_PREFIX = "route.request.querystring.";
const HEADER_PREFIX = "route.request.header.";

/** `route.request.querystring.token` or `route.request.header.<Name>`, as the stack passes it to API Gateway. */
export function parseIdentitySource(source: string): IdentitySource {
  if (source.startsWith(QUERY_PREFIX) && source.length > QUERY_PREFIX.length) {
    return { kind: "querystring", name: source.slice(QUERY_PREFIX.length) };
  }
  if (source.startsWith(HEADER_PREFIX) && source.length > HEADER_PREFIX.length) {
    return { kind: "header", name: source.slice(HEADER_PREFIX.length) };
  }
  throw new ConfigurationError(
    "identity source",
    `is not route.request.querystring.<name> or route.request.header.<Name>: ${source}`,
  );
}

/**
 * The identity value of a request, or undefined when it is missing or empty: API Gateway then answers 401 without
 * calling the authorizer. Header names compare case-insensitively, query parameter names exactly.
 */
export function identityValue(
  source: IdentitySource,
  request: { query: URLSearchParams; headers: Readonly<Record<string, string | string[] | undefined>> },
): string | undefined {
  const raw =
    source.kind === "querystring" ? request.query.get(source.name) : request.headers[source.name.toLowerCase()];
  const value = Array.isArray(raw) ? raw.join(",") : raw;
  return value === undefined || value === null || value.trim() === "" ? undefined : value;
}
