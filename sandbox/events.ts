import type { WebSocketAuthorizerEvent, WebSocketEvent } from "../core/websocket-event.js";
import type { UpgradeRequest } from "./upgrade-request.js";

/** Where the emulated API lives: the values API Gateway puts in ARNs and request contexts. */
export interface StageInfo {
  apiId: string;
  stage: string;
  region: string;
  accountId: string;
}

/** What every event of one connection shares. */
export interface EventBase {
  stage: StageInfo;
  connectionId: string;
  /** Epoch ms the connection was accepted (for the authorizer: when the upgrade arrived). */
  connectedAt: number;
  requestId: string;
  /** Epoch ms of this request. */
  now: number;
  domainName: string;
  sourceIp: string;
  userAgent: string | undefined;
}

/** The authorizer's output as integrations see it: `principalId` and the context, every value a string. */
export type AuthorizerContextStrings = Record<string, string>;

type RequestContext = WebSocketEvent["requestContext"];

export const methodArn = (stage: StageInfo, routeKey: string): string =>
  `arn:aws:execute-api:${stage.region}:${stage.accountId}:${stage.apiId}/${stage.stage}/${routeKey}`;

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
/** API Gateway's `requestTime`: `09/Feb/2024:18:11:43 +0000`. */
export function requestTime(epochMs: number): string {
  const d = new Date(epochMs);
  const pad = (n: number) => String(n).padStart(2, "0");
  return (
    `${pad(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000`
  );
}

function requestContext(
  base: EventBase,
  routeKey: string,
  eventType: "CONNECT" | "MESSAGE" | "DISCONNECT",
  identity: { sourceIp: string; userAgent?: string },
): RequestContext {
  return {
    routeKey,
    eventType,
    extendedRequestId: base.requestId,
    requestTime: requestTime(base.now),
    messageDirection: "IN",
    stage: base.stage.stage,
    connectedAt: base.connectedAt,
    requestTimeEpoch: base.now,
    identity,
    requestId: base.requestId,
    domainName: base.domainName,
    connectionId: base.connectionId,
    apiId: base.stage.apiId,
  };
}

const connectIdentity = (base: EventBase) => ({
  sourceIp: base.sourceIp,
  ...(base.userAgent === undefined ? {} : { userAgent: base.userAgent }),
});

/** The REQUEST authorizer event of `$connect`. */
export function authorizerEvent(base: EventBase, request: UpgradeRequest): WebSocketAuthorizerEvent {
  return {
    type: "REQUEST",
    methodArn: methodArn(base.stage, "$connect"),
    headers: request.headers,
    multiValueHeaders: request.multiValueHeaders,
    queryStringParameters: request.queryStringParameters,
    multiValueQueryStringParameters: request.multiValueQueryStringParameters,
    stageVariables: {},
    requestContext: requestContext(base, "$connect", "CONNECT", connectIdentity(base)),
  };
}

/** `$connect`, after the authorizer allowed it. */
export function connectEvent(
  base: EventBase,
  request: UpgradeRequest,
  authorizer: AuthorizerContextStrings,
): WebSocketEvent {
  return {
    headers: request.headers,
    multiValueHeaders: request.multiValueHeaders,
    ...(Object.keys(request.queryStringParameters).length > 0
      ? {
          queryStringParameters: request.queryStringParameters,
          multiValueQueryStringParameters: request.multiValueQueryStringParameters,
        }
      : {}),
    requestContext: { ...requestContext(base, "$connect", "CONNECT", connectIdentity(base)), authorizer },
    isBase64Encoded: false,
  };
}

/** A client message, on the route selection chose. Binary frames arrive base64-encoded. */
export function messageEvent(
  base: EventBase,
  message: { routeKey: string; messageId: string; body: string; isBase64Encoded: boolean },
  authorizer: AuthorizerContextStrings | undefined,
): WebSocketEvent {
  return {
    requestContext: {
      ...requestContext(base, message.routeKey, "MESSAGE", { sourceIp: base.sourceIp }),
      messageId: message.messageId,
      ...(authorizer ? { authorizer } : {}),
    },
    body: message.body,
    isBase64Encoded: message.isBase64Encoded,
  };
}

/** `$disconnect`, with the close code and reason (1005/1006 when the client sent none or vanished). */
export function disconnectEvent(
  base: EventBase,
  close: { statusCode: number; reason: string },
  authorizer: AuthorizerContextStrings | undefined,
): WebSocketEvent {
  const headers = { Host: base.domainName, "X-Forwarded-For": base.sourceIp };
  return {
    headers,
    multiValueHeaders: Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, [value]])),
    requestContext: {
      ...requestContext(base, "$disconnect", "DISCONNECT", connectIdentity(base)),
      disconnectStatusCode: close.statusCode,
      disconnectReason: close.reason,
      ...(authorizer ? { authorizer } : {}),
    },
    isBase64Encoded: false,
  };
}
