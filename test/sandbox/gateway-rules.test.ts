import type { APIGatewayAuthorizerResult } from "aws-lambda";
import { describe, expect, it } from "vitest";
import { ROUTE_SELECTION_EXPRESSION, TOKEN_IDENTITY_SOURCES } from "../../core/protocol.js";
import { decideAuthorization } from "../../sandbox/authorizer-decision.js";
import { identityValue, parseIdentitySource } from "../../sandbox/identity-source.js";
import { ManagementFaults } from "../../sandbox/management-faults.js";
import { createRouteSelector, parseRouteSelectionExpression } from "../../sandbox/route-selection.js";

// The small pure rules the gateway is made of, one by one.
describe("route selection", () => {
  const select = createRouteSelector(ROUTE_SELECTION_EXPRESSION, [
    "$connect",
    "$disconnect",
    "$default",
    "sendmessage",
  ]);

  it.each([
    ['{"action":"sendmessage","text":"hi"}', "sendmessage"],
    ['{"action":"SendMessage"}', "$default"],
    ['{"action":"dance"}', "$default"],
    ['{"action":"$connect"}', "$default"],
    ['{"action":42}', "$default"],
    ['{"text":"no action"}', "$default"],
    ['["action","sendmessage"]', "$default"],
    ['{"__proto__":{"action":"sendmessage"}}', "$default"],
    ["not json", "$default"],
    ["", "$default"],
  ])("%s goes to %s", (body, route) => {
    expect(select(body)).toBe(route);
  });

  it("reads the field the stack's expression names, nested or not", () => {
    expect(parseRouteSelectionExpression("$request.body.action")).toEqual(["action"]);
    expect(createRouteSelector("$request.body.meta.type", ["ping"])('{"meta":{"type":"ping"}}')).toBe("ping");
    expect(() => parseRouteSelectionExpression("$request.header.x")).toThrow(/route selection expression/);
  });
});

describe("identity source", () => {
  const headers = { "sec-websocket-protocol": "supertokens-chat, eyJ.x.y" };

  it("parses both transports the stack can deploy", () => {
    expect(parseIdentitySource(TOKEN_IDENTITY_SOURCES.query)).toEqual({ kind: "querystring", name: "token" });
    expect(parseIdentitySource(TOKEN_IDENTITY_SOURCES.subprotocol)).toEqual({
      kind: "header",
      name: "Sec-WebSocket-Protocol",
    });
    expect(() => parseIdentitySource("method.request.header.Authorization")).toThrow(/identity source/);
  });

  it("is missing when absent or empty, as API Gateway judges before calling the authorizer", () => {
    const query = parseIdentitySource(TOKEN_IDENTITY_SOURCES.query);
    const header = parseIdentitySource(TOKEN_IDENTITY_SOURCES.subprotocol);
    expect(identityValue(query, { query: new URLSearchParams("token=abc"), headers: {} })).toBe("abc");
    expect(identityValue(query, { query: new URLSearchParams("token="), headers: {} })).toBeUndefined();
    expect(identityValue(query, { query: new URLSearchParams("Token=abc"), headers: {} })).toBeUndefined();
    expect(identityValue(header, { query: new URLSearchParams(), headers })).toBe("supertokens-chat, eyJ.x.y");
    expect(identityValue(header, { query: new URLSearchParams("token=abc"), headers: {} })).toBeUndefined();
  });
});

describe("authorizer outcome", () => {
  const arn = "arn:aws:execute-api:us-east-1:000000000000:abcdefghij/prod/$connect";
  const policy = (
    effect: string,
    resource: unknown,
    action: unknown = "execute-api:Invoke",
  ): APIGatewayAuthorizerResult =>
    ({
      principalId: "user-1",
      policyDocument: { Version: "2012-10-17", Statement: [{ Effect: effect, Action: action, Resource: resource }] },
      context: { userId: "user-1", expiresAt: 1_800_000_000, verified: true },
    }) as APIGatewayAuthorizerResult;
  const decide = (value: unknown) => decideAuthorization({ ok: true, value }, arn);

  it("allows and turns every context value into a string", () => {
    expect(decide(policy("Allow", arn))).toEqual({
      allow: true,
      principalId: "user-1",
      context: { userId: "user-1", expiresAt: "1800000000", verified: "true" },
    });
  });

  it.each([
    ["a wildcard resource", policy("Allow", "arn:aws:execute-api:us-east-1:000000000000:abcdefghij/*")],
    ["a list of resources", policy("Allow", ["arn:other", arn])],
    ["a wildcard action", policy("Allow", arn, "execute-api:*")],
  ])("allows %s", (_label, result) => {
    expect(decide(result).allow).toBe(true);
  });

  it.each([
    ["an explicit Deny", policy("Deny", arn), 403],
    ["an Allow on another route", policy("Allow", arn.replace("$connect", "sendmessage")), 403],
    ["an Allow of another action", policy("Allow", arn, "s3:GetObject"), 403],
    ["no policy document", { principalId: "user-1" }, 500],
    ["a nested context value", { ...policy("Allow", arn), context: { nested: { a: 1 } } }, 500],
    ["a result over 8 KB", { ...policy("Allow", arn), context: { big: "x".repeat(9000) } }, 500],
  ])("refuses %s with %i", (_label, result, status) => {
    expect(decide(result)).toMatchObject({ allow: false, status });
  });

  it("maps errors: Unauthorized is 401, anything else or a timeout 500", () => {
    expect(decideAuthorization({ ok: false, error: new Error("Unauthorized") }, arn)).toMatchObject({ status: 401 });
    expect(decideAuthorization({ ok: false, error: new Error("unauthorized") }, arn)).toMatchObject({ status: 500 });
    expect(decideAuthorization({ ok: false, error: new Error("x"), timedOut: true }, arn)).toMatchObject({
      status: 500,
    });
  });
});

describe("management API faults", () => {
  const post = (connectionId: string, payload = "{}") => ({
    method: "POST" as const,
    connectionId,
    payload: Buffer.from(payload),
  });

  it("applies the first matching rule, counts down its times, and can be removed", () => {
    const faults = new ManagementFaults();
    faults.add({ connectionIds: ["a"], methods: ["POST"], status: 429, times: 2 });
    const remove = faults.add({ status: 500 });
    expect(faults.take(post("a"))).toEqual({ status: 429, delayMs: 0 });
    expect(faults.take({ method: "GET", connectionId: "a" })).toEqual({ status: 500, delayMs: 0 });
    expect(faults.take(post("a"))).toEqual({ status: 429, delayMs: 0 });
    expect(faults.take(post("a"))).toEqual({ status: 500, delayMs: 0 });
    remove();
    expect(faults.take(post("a"))).toBeUndefined();
  });

  it("aims a rule at chosen payloads, leaving other frames and bodiless calls alone", () => {
    const faults = new ManagementFaults();
    faults.add({ payload: (data) => data.includes('"message"'), status: 429, times: 1 });
    expect(faults.take(post("a", '{"type":"left"}'))).toBeUndefined();
    expect(faults.take({ method: "DELETE", connectionId: "a" })).toBeUndefined();
    expect(faults.take(post("a", '{"type":"message"}'))).toEqual({ status: 429, delayMs: 0 });
    expect(faults.take(post("a", '{"type":"message"}'))).toBeUndefined();
  });
});
