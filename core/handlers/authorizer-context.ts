import { DEFAULT_TENANT } from "../protocol.js";
import type { AuthorizerContext, WebSocketEvent } from "../websocket-event.js";

/** The authorizer's context on an integration event, with numbers parsed back; undefined when absent or partial. */
export function readAuthorizerContext(event: WebSocketEvent): AuthorizerContext | undefined {
  const auth = event.requestContext.authorizer;
  const expiresAt = Number(auth?.expiresAt);
  if (!auth?.userId || !auth.sessionHandle || !Number.isFinite(expiresAt)) return undefined;
  return {
    userId: String(auth.userId),
    sessionHandle: String(auth.sessionHandle),
    tenantId: String(auth.tenantId ?? DEFAULT_TENANT),
    expiresAt,
    ...(auth.name ? { name: String(auth.name) } : {}),
  };
}
