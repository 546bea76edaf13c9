import type { APIGatewayEventWebsocketRequestContextV2 } from "aws-lambda";

/**
 * What the `$connect` authorizer hands to the integrations. API Gateway turns every value into a string on the
 * way (FACTS.md), so readers must parse numbers back.
 */
export interface AuthorizerContext {
  userId: string;
  sessionHandle: string;
  tenantId: string;
  /** Token `exp`, epoch seconds. */
  expiresAt: number;
  name?: string;
}

/** A WebSocket event as API Gateway sends it to a Lambda integration, with the authorizer's context when there is one. */
export interface WebSocketEvent {
  /** `messageId` is on MESSAGE events only, although `aws-lambda`'s context type always declares it. */
  requestContext: Omit<APIGatewayEventWebsocketRequestContextV2, "messageId"> & {
    messageId?: string;
    /** On DISCONNECT events: the close code and reason (1005/1006 when the client sent none or vanished). */
    disconnectStatusCode?: number;
    disconnectReason?: string;
    authorizer?: Partial<Record<keyof AuthorizerContext | "principalId", string | number>>;
    identity?: { sourceIp?: string };
  };
  body?: string;
  isBase64Encoded: boolean;
  headers?: Record<string, string | undefined>;
  multiValueHeaders?: Record<string, string[] | undefined>;
  queryStringParameters?: Record<string, string | undefined>;
  multiValueQueryStringParameters?: Record<string, string[] | undefined>;
}

/** A WebSocket `$connect` REQUEST authorizer event. */
export interface WebSocketAuthorizerEvent {
  type: "REQUEST";
  methodArn: string;
  headers?: Record<string, string | undefined> | null;
  multiValueHeaders?: Record<string, string[] | undefined> | null;
  queryStringParameters?: Record<string, string | undefined> | null;
  multiValueQueryStringParameters?: Record<string, string[] | undefined> | null;
  stageVariables?: Record<string, string | undefined> | null;
  requestContext: WebSocketEvent["requestContext"];
}

export interface WebSocketResult {
  statusCode: number;
  body?: string;
  headers?: Record<string, string>;
}
