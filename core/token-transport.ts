import { RejectionReason, TokenRejectedError } from "./errors.js";
import { CHAT_SUBPROTOCOL, SUBPROTOCOL_HEADER, TOKEN_QUERY_PARAMETER } from "./protocol.js";

interface HandshakeRequest {
  headers?: Record<string, string | undefined> | null;
  queryStringParameters?: Record<string, string | undefined> | null;
  multiValueQueryStringParameters?: Record<string, string[] | undefined> | null;
}

/**
 * The access token of a `$connect`, from the query string or the subprotocol header, whichever the client used
 * (API Gateway's identity source decides which one may reach the authorizer at all). Two tokens is a refusal.
 */
export function tokenFromHandshake(request: HandshakeRequest): string | undefined {
  const inQuery = request.multiValueQueryStringParameters?.[TOKEN_QUERY_PARAMETER] ?? [];
  const fromQuery = request.queryStringParameters?.[TOKEN_QUERY_PARAMETER];
  const offered = subprotocols(request.headers);
  const inProtocol = offered.includes(CHAT_SUBPROTOCOL) ? offered.filter((p) => p !== CHAT_SUBPROTOCOL) : [];
  const count = Math.max(inQuery.length, fromQuery ? 1 : 0) + inProtocol.length;
  if (count > 1) throw new TokenRejectedError(RejectionReason.Malformed, `${count} tokens in one request`);
  return fromQuery ?? inProtocol[0];
}

/** The `$connect` response headers: the chosen subprotocol echoed, without which browsers drop the socket. */
export function handshakeResponseHeaders(headers: HandshakeRequest["headers"]): Record<string, string> | undefined {
  return subprotocols(headers).includes(CHAT_SUBPROTOCOL) ? { [SUBPROTOCOL_HEADER]: CHAT_SUBPROTOCOL } : undefined;
}

function subprotocols(headers: HandshakeRequest["headers"]): string[] {
  const name = SUBPROTOCOL_HEADER.toLowerCase();
  const value = Object.entries(headers ?? {}).find(([key]) => key.toLowerCase() === name)?.[1];
  return value
    ? value
        .split(",")
        .map((part) => part.trim())
        .filter(Boolean)
    : [];
}
