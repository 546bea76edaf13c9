import type { WebSocketAuthorizerEvent, WebSocketEvent } from "../../core/websocket-event.js";

/** Minimal API Gateway WebSocket events for handler unit tests. */
export function webSocketEvent(
  routeKey: string,
  overrides: { connectionId?: string; body?: string; authorizer?: Record<string, string | number> } = {},
): WebSocketEvent {
  return {
    requestContext: {
      routeKey,
      messageId: "msg-1",
      eventType: routeKey === "$connect" ? "CONNECT" : routeKey === "$disconnect" ? "DISCONNECT" : "MESSAGE",
      extendedRequestId: "ext-1",
      requestTime: "29/Nov/2026:06:00:00 +0000",
      messageDirection: "IN",
      stage: "prod",
      connectedAt: 1_795_932_000_000,
      requestTimeEpoch: 1_795_932_000_000,
      requestId: "req-1",
      domainName: "abc123.execute-api.eu-west-1.amazonaws.com",
      connectionId: overrides.connectionId ?? "conn-A=",
      apiId: "abc123",
      ...(overrides.authorizer ? { authorizer: overrides.authorizer } : {}),
    },
    body: overrides.body,
    isBase64Encoded: false,
  };
}

export function authorizerEvent(query: Record<string, string[]>): WebSocketAuthorizerEvent {
  return {
    type: "REQUEST",
    methodArn: "arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/$connect",
    headers: {},
    multiValueHeaders: {},
    queryStringParameters: Object.fromEntries(Object.entries(query).map(([k, v]) => [k, v.at(-1)])),
    multiValueQueryStringParameters: query,
    requestContext: webSocketEvent("$connect").requestContext,
  };
}

/** A logger sink that keeps lines for assertions. */
export function captureLogs() {
  const lines: string[] = [];
  return { lines, sink: (line: string) => lines.push(line), all: () => lines.join("\n") };
}
