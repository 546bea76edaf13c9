import { describe, expect, it } from "vitest";
import {
  authorizerEvent,
  connectEvent,
  disconnectEvent,
  type EventBase,
  messageEvent,
  methodArn,
  requestTime,
} from "../../sandbox/events.js";
import { apiId, gatewayId } from "../../sandbox/ids.js";
import type { UpgradeRequest } from "../../sandbox/upgrade-request.js";

// One builder per event type, each checked against the shape API Gateway sends.
const base: EventBase = {
  stage: { apiId: "abcdefghij", stage: "prod", region: "eu-west-1", accountId: "123456789012" },
  connectionId: "Jy2gjcBVIAMCFNQ=",
  connectedAt: 1_707_502_303_419,
  requestId: "Jy2gmGE4IAMFRzQ=",
  now: 1_707_502_303_420,
  domainName: "127.0.0.1:3001",
  sourceIp: "127.0.0.1",
  userAgent: "test/1.0",
};
const request: UpgradeRequest = {
  path: "/prod",
  query: new URLSearchParams("token=t1"),
  lookup: { host: "127.0.0.1:3001" },
  headers: { Host: "127.0.0.1:3001", "X-Forwarded-For": "127.0.0.1" },
  multiValueHeaders: { Host: ["127.0.0.1:3001"], "X-Forwarded-For": ["127.0.0.1"] },
  queryStringParameters: { token: "t1" },
  multiValueQueryStringParameters: { token: ["t1"] },
  sourceIp: "127.0.0.1",
  userAgent: "test/1.0",
  domainName: "127.0.0.1:3001",
};
const context = {
  routeKey: "$connect",
  eventType: "CONNECT",
  extendedRequestId: base.requestId,
  requestTime: "09/Feb/2024:18:11:43 +0000",
  messageDirection: "IN",
  stage: "prod",
  connectedAt: base.connectedAt,
  requestTimeEpoch: base.now,
  identity: { sourceIp: "127.0.0.1", userAgent: "test/1.0" },
  requestId: base.requestId,
  domainName: "127.0.0.1:3001",
  connectionId: base.connectionId,
  apiId: "abcdefghij",
};

describe("event builders", () => {
  it("builds the REQUEST authorizer event", () => {
    expect(authorizerEvent(base, request)).toEqual({
      type: "REQUEST",
      methodArn: "arn:aws:execute-api:eu-west-1:123456789012:abcdefghij/prod/$connect",
      headers: request.headers,
      multiValueHeaders: request.multiValueHeaders,
      queryStringParameters: { token: "t1" },
      multiValueQueryStringParameters: { token: ["t1"] },
      stageVariables: {},
      requestContext: context,
    });
  });

  it("builds $connect with the authorizer's string context", () => {
    const authorizer = { principalId: "u1", userId: "u1", expiresAt: "1800000000" };
    expect(connectEvent(base, request, authorizer)).toEqual({
      headers: request.headers,
      multiValueHeaders: request.multiValueHeaders,
      queryStringParameters: { token: "t1" },
      multiValueQueryStringParameters: { token: ["t1"] },
      requestContext: { ...context, authorizer },
      isBase64Encoded: false,
    });
  });

  it("builds a MESSAGE event with a messageId, with or without the authorizer context", () => {
    const message = { routeKey: "sendmessage", messageId: "Jy2hzeZ0IAMCFYQ=", body: "{}", isBase64Encoded: false };
    const expected = {
      requestContext: {
        ...context,
        routeKey: "sendmessage",
        eventType: "MESSAGE",
        messageId: "Jy2hzeZ0IAMCFYQ=",
        identity: { sourceIp: "127.0.0.1" },
      },
      body: "{}",
      isBase64Encoded: false,
    };
    expect(messageEvent(base, message, undefined)).toEqual(expected);
    expect(messageEvent(base, message, { principalId: "u1" }).requestContext.authorizer).toEqual({ principalId: "u1" });
  });

  it("builds $disconnect with the close code and reason", () => {
    expect(disconnectEvent(base, { statusCode: 1001, reason: "Going away" }, undefined)).toEqual({
      headers: { Host: "127.0.0.1:3001", "X-Forwarded-For": "127.0.0.1" },
      multiValueHeaders: { Host: ["127.0.0.1:3001"], "X-Forwarded-For": ["127.0.0.1"] },
      requestContext: {
        ...context,
        routeKey: "$disconnect",
        eventType: "DISCONNECT",
        disconnectStatusCode: 1001,
        disconnectReason: "Going away",
      },
      isBase64Encoded: false,
    });
  });

  it("writes times and ARNs as API Gateway does", () => {
    expect(requestTime(Date.UTC(2024, 1, 9, 18, 11, 43))).toBe("09/Feb/2024:18:11:43 +0000");
    expect(methodArn(base.stage, "sendmessage")).toBe(
      "arn:aws:execute-api:eu-west-1:123456789012:abcdefghij/prod/sendmessage",
    );
  });

  it("makes ids shaped like API Gateway's, different every time", () => {
    const ids = Array.from({ length: 200 }, gatewayId);
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9]{15}=$/);
    expect(new Set(ids).size).toBe(200);
    expect(apiId()).toMatch(/^[a-z0-9]{10}$/);
  });
});
