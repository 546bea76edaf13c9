import { type KeyObject, sign } from "node:crypto";
import type { APIGatewayAuthorizerResult } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import type { WebSocketAuthorizerEvent, WebSocketEvent } from "../../core/websocket-event.js";
import { devUserId } from "../../sandbox/dev-auth.js";
import type { Invocation } from "../../sandbox/invoker.js";
import type { Sandbox } from "../../sandbox/sandbox.js";
import {
  connectAs,
  connectionIdOf,
  connectionRecords,
  signIn,
  startTestSandbox,
  type TestSandbox,
} from "../support/sandbox.js";
import { newRsaKey, rawJwt } from "../support/token-issuer.js";
import { openClient, refusedStatus, withToken } from "../support/ws-client.js";

const GATEWAY_ID = /^[A-Za-z0-9]{15}=$/;

/** The token with its payload changed and the old signature kept. */
function tamper(token: string, claims: Record<string, unknown>): string {
  const [header, payload, signature] = token.split(".");
  const changed = { ...JSON.parse(Buffer.from(payload ?? "", "base64url").toString()), ...claims };
  return `${header}.${Buffer.from(JSON.stringify(changed)).toString("base64url")}.${signature}`;
}

/** The same header and payload, signed with another key (the header's kid still names the issuer's key). */
function resign(token: string, key: KeyObject): string {
  const [header, payload] = token.split(".");
  return `${header}.${payload}.${sign("sha256", Buffer.from(`${header}.${payload}`), key).toString("base64url")}`;
}

/** A token from the sandbox's development issuer, with chosen changes. */
function devToken(
  sandbox: Sandbox,
  name: string,
  change: { claims?: Record<string, unknown>; header?: Record<string, unknown> } = {},
) {
  const issuer = sandbox.devIssuer;
  if (!issuer) throw new Error("no development issuer");
  return issuer.sign({ userId: devUserId(name), name, ...change }).token;
}

describe("refused connections", () => {
  let sandbox: TestSandbox;
  const invocations: Invocation[] = [];
  beforeAll(async () => {
    sandbox = await startTestSandbox({ onInvoke: (invocation) => invocations.push(invocation) });
  });
  afterAll(() => sandbox.close());

  const authorizerCalls = () => invocations.filter((invocation) => invocation.handler === "authorizer").length;

  it("answers 401 without calling the authorizer when there is no token", async () => {
    const before = authorizerCalls();
    expect(await refusedStatus(sandbox.urls.webSocket)).toBe(401);
    expect(await refusedStatus(`${sandbox.urls.webSocket}?token=`)).toBe(401);
    expect(await refusedStatus(sandbox.urls.webSocket, { token: "   " })).toBe(401);
    expect(authorizerCalls()).toBe(before);
    expect(sandbox.logLines.filter((line) => /refused +401 no token/.test(line))).toHaveLength(3);
  });

  it.each([
    [
      "a token whose claims were changed after signing",
      "bad_signature",
      (s: Sandbox) => tamper(devToken(s, "mallory"), { sub: "dev-admin" }),
    ],
    [
      "a token signed with a key that is not in the JWKS",
      "bad_signature",
      (s: Sandbox) => resign(devToken(s, "eve"), newRsaKey()),
    ],
    [
      "an expired token",
      "expired",
      (s: Sandbox) => devToken(s, "old", { claims: { exp: Math.floor(Date.now() / 1000) - 60 } }),
    ],
    [
      "a token from another issuer",
      "wrong_issuer",
      (s: Sandbox) => devToken(s, "stranger", { claims: { iss: "https://evil.example/auth" } }),
    ],
    ["a token whose kid is unknown", "unknown_key", (s: Sandbox) => devToken(s, "nobody", { header: { kid: "d-1" } })],
    ["something that is not a JWT", "malformed", () => "not-a-jwt"],
    ["alg none", "malformed", () => rawJwt('{"alg":"none","typ":"JWT"}', '{"sub":"x"}')],
  ])("refuses %s with 401, leaves no record, and logs the reason", async (_label, reason, make) => {
    const token = make(sandbox);
    const recordsBefore = (await connectionRecords(sandbox)).length;
    const mark = sandbox.logLines.length;

    expect(await refusedStatus(sandbox.urls.webSocket, { token })).toBe(401);

    expect(await connectionRecords(sandbox)).toHaveLength(recordsBefore);
    expect(sandbox.logLines.slice(mark)).toContainEqual(expect.stringMatching(new RegExp(`refused +401 ${reason}`)));
    expect(sandbox.logLines.join("\n")).not.toContain(token);
  });

  it("answers 403 on a path other than the stage", async () => {
    const { accessToken } = await signIn(sandbox, "wanderer");
    expect(await refusedStatus(sandbox.urls.webSocket.replace(/\/prod$/, "/dev"), { token: accessToken })).toBe(403);
  });

  it("leaves no record and no open connection after any refusal", async () => {
    expect(await connectionRecords(sandbox)).toEqual([]);
    expect(sandbox.hooks.connections()).toEqual([]);
  });
});

describe("what API Gateway makes of handler outcomes", () => {
  const allow = (event: WebSocketAuthorizerEvent, effect: "Allow" | "Deny" = "Allow"): APIGatewayAuthorizerResult => ({
    principalId: "user-1",
    policyDocument: {
      Version: "2012-10-17",
      Statement: [{ Action: "execute-api:Invoke", Effect: effect, Resource: event.methodArn }],
    },
    context: { userId: "user-1", sessionHandle: "s", tenantId: "public", expiresAt: 9_999_999_999 },
  });

  async function statusWith(handlers: Parameters<typeof startTestSandbox>[0]) {
    const sandbox = await startTestSandbox(handlers);
    try {
      const status = await refusedStatus(sandbox.urls.webSocket, { token: "anything" });
      return { status, records: await connectionRecords(sandbox), log: sandbox.logLines };
    } finally {
      await sandbox.close();
    }
  }

  it("answers 403 to an explicit Deny", async () => {
    const result = await statusWith({ handlers: { authorizer: async (event) => allow(event, "Deny") } });
    expect(result.status).toBe(403);
    expect(result.records).toEqual([]);
  });

  it("answers 500 when the authorizer fails with anything but Unauthorized", async () => {
    expect((await statusWith({ handlers: { authorizer: async () => Promise.reject(new Error("boom")) } })).status).toBe(
      500,
    );
  });

  it("answers 500 to an authorizer context holding an object", async () => {
    const authorizer = async (event: WebSocketAuthorizerEvent) => ({ ...allow(event), context: { nested: { a: 1 } } });
    expect((await statusWith({ handlers: { authorizer: authorizer as never } })).status).toBe(500);
  });

  it("refuses the socket with the status a failing $connect returns, or 500 when it throws", async () => {
    const authorizer = async (event: WebSocketAuthorizerEvent) => allow(event);
    expect((await statusWith({ handlers: { authorizer, connect: async () => ({ statusCode: 429 }) } })).status).toBe(
      429,
    );
    expect(
      (await statusWith({ handlers: { authorizer, connect: () => Promise.reject(new Error("db down")) } })).status,
    ).toBe(500);
  });

  it("runs $disconnect for a client that left while $connect was running", async () => {
    const invocations: Invocation[] = [];
    let connectionId = "";
    let entered = () => {};
    const inConnect = new Promise<void>((resolve) => {
      entered = resolve;
    });
    let release = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const sandbox = await startTestSandbox({
      onInvoke: (invocation) => invocations.push(invocation),
      handlers: {
        authorizer: async (event) => allow(event),
        connect: async (event) => {
          connectionId = event.requestContext.connectionId;
          entered();
          await gate;
          return { statusCode: 200 };
        },
      },
    });
    try {
      const socket = new WebSocket(withToken(sandbox.urls.webSocket, "anything"));
      socket.on("error", () => {});
      await inConnect;
      const ended = sandbox.hooks.whenEnded(connectionId);
      socket.terminate();
      release();

      expect((await ended).code).toBe(1006);
      const disconnects = invocations.filter(
        (invocation): invocation is Extract<Invocation, { handler: "route" }> =>
          invocation.handler === "route" && invocation.routeKey === "$disconnect",
      );
      expect(disconnects.map((invocation) => invocation.event.requestContext.connectionId)).toEqual([connectionId]);
      expect(sandbox.hooks.connections()).toEqual([]);
    } finally {
      await sandbox.close();
    }
  });

  it("sends an Internal server error frame when a route handler throws", async () => {
    const sandbox = await startTestSandbox({ handlers: { message: () => Promise.reject(new Error("bug")) } });
    try {
      const client = await connectAs(sandbox, "olive");
      client.send({ action: "sendmessage", text: "hi" });
      const frame = await client.waitFor((received) => (received as { message?: string }).message !== undefined);
      expect(frame).toEqual({
        message: "Internal server error",
        connectionId: connectionIdOf(sandbox, client.userId),
        requestId: expect.stringMatching(GATEWAY_ID),
      });
      await client.close();
    } finally {
      await sandbox.close();
    }
  });
});

describe("events the handlers receive", () => {
  let sandbox: TestSandbox;
  const invocations: Invocation[] = [];
  beforeAll(async () => {
    sandbox = await startTestSandbox({ onInvoke: (invocation) => invocations.push(invocation) });
  });
  afterAll(() => sandbox.close());

  it("has every field API Gateway sends, on every event of a connection's life", async () => {
    const { accessToken, user } = await signIn(sandbox, "Pat");
    const client = await openClient(sandbox.urls.webSocket, {
      token: accessToken,
      headers: { "User-Agent": "shape-test/1.0" },
    });
    const connectionId = connectionIdOf(sandbox, user.userId);
    client.send({ action: "sendmessage", text: "shape" });
    client.send({ action: "nope" });
    await client.waitFor((frame) => (frame as { code?: string }).code === "unknown_action");
    const ended = sandbox.hooks.whenEnded(connectionId);
    await client.close(1000, "done");
    await ended;

    const mine = invocations.filter(
      (invocation): invocation is Exclude<Invocation, { handler: "fanout-worker" }> =>
        invocation.handler !== "fanout-worker" && invocation.event.requestContext.connectionId === connectionId,
    );
    const authorizer = mine.find((invocation) => invocation.handler === "authorizer")
      ?.event as WebSocketAuthorizerEvent;
    const route = (key: string) =>
      mine.find((invocation) => invocation.handler === "route" && invocation.routeKey === key)?.event as WebSocketEvent;
    const apiId = authorizer.requestContext.apiId;
    const domainName = new URL(sandbox.urls.webSocket).host;

    expect(connectionId).toMatch(GATEWAY_ID);
    expect(authorizer).toMatchObject({
      type: "REQUEST",
      methodArn: `arn:aws:execute-api:us-east-1:000000000000:${apiId}/prod/$connect`,
      headers: expect.objectContaining({
        Host: domainName,
        "User-Agent": "shape-test/1.0",
        "Sec-WebSocket-Version": "13",
      }),
      multiValueHeaders: expect.objectContaining({ Host: [domainName], "X-Forwarded-For": ["127.0.0.1"] }),
      queryStringParameters: { token: accessToken },
      multiValueQueryStringParameters: { token: [accessToken] },
      requestContext: {
        routeKey: "$connect",
        eventType: "CONNECT",
        connectionId,
        connectedAt: expect.any(Number),
        requestTimeEpoch: expect.any(Number),
        requestTime: expect.stringMatching(/^\d\d\/[A-Z][a-z]{2}\/\d{4}:\d\d:\d\d:\d\d \+0000$/),
        domainName,
        stage: "prod",
        apiId: expect.stringMatching(/^[a-z0-9]{10}$/),
        requestId: expect.stringMatching(GATEWAY_ID),
        extendedRequestId: expect.any(String),
        messageDirection: "IN",
        identity: { sourceIp: "127.0.0.1", userAgent: "shape-test/1.0" },
      },
    });
    expect(authorizer.requestContext).not.toHaveProperty("messageId");

    const connect = route("$connect");
    expect(connect.requestContext).toMatchObject({
      routeKey: "$connect",
      eventType: "CONNECT",
      connectionId,
      connectedAt: authorizer.requestContext.connectedAt,
      // Every context value arrives as a string, as API Gateway delivers them.
      authorizer: {
        principalId: user.userId,
        userId: user.userId,
        name: "Pat",
        tenantId: "public",
        sessionHandle: expect.any(String),
        expiresAt: String(
          (JSON.parse(Buffer.from(accessToken.split(".")[1] ?? "", "base64url").toString()) as { exp: number }).exp,
        ),
      },
    });
    expect(connect.isBase64Encoded).toBe(false);

    const message = route("sendmessage");
    expect(message).toMatchObject({
      body: JSON.stringify({ action: "sendmessage", text: "shape" }),
      isBase64Encoded: false,
      requestContext: {
        routeKey: "sendmessage",
        eventType: "MESSAGE",
        messageId: expect.stringMatching(GATEWAY_ID),
        connectionId,
        apiId,
        stage: "prod",
        identity: { sourceIp: "127.0.0.1" },
        authorizer: expect.objectContaining({ principalId: user.userId }),
      },
    });
    expect(route("$default").requestContext).toMatchObject({ routeKey: "$default", eventType: "MESSAGE" });

    expect(route("$disconnect").requestContext).toMatchObject({
      routeKey: "$disconnect",
      eventType: "DISCONNECT",
      connectionId,
      disconnectStatusCode: 1000,
      disconnectReason: "done",
    });

    // Fresh random ids: every request has its own.
    const requestIds = mine.map((invocation) => invocation.event.requestContext.requestId);
    expect(new Set(requestIds).size).toBe(requestIds.length - 1); // the authorizer and $connect share the upgrade's
  });

  it("gives every connection its own random id", async () => {
    const clients = await Promise.all(["q1", "q2", "q3"].map((name) => connectAs(sandbox, name)));
    const ids = clients.map((client) => connectionIdOf(sandbox, client.userId));
    expect(new Set(ids).size).toBe(3);
    for (const id of ids) expect(id).toMatch(GATEWAY_ID);
    await Promise.all(clients.map((client) => client.close()));
  });
});

describe("the token as a WebSocket subprotocol", () => {
  let sandbox: TestSandbox;
  beforeAll(async () => {
    sandbox = await startTestSandbox({ tokenTransport: "subprotocol" });
  });
  afterAll(() => sandbox.close());

  it("connects with [chat protocol, token] and gets the chat protocol echoed", async () => {
    const { accessToken } = await signIn(sandbox, "quinn");
    const client = await openClient(sandbox.urls.webSocket, { protocols: ["supertokens-chat", accessToken] });
    expect(client.socket.protocol).toBe("supertokens-chat");
    await client.close();
  });

  it("tells the page so in config.json", async () => {
    expect(await (await fetch(sandbox.urls.config)).json()).toMatchObject({ tokenTransport: "subprotocol" });
  });

  it("answers 401 without the header, even with a token in the query string", async () => {
    const { accessToken } = await signIn(sandbox, "quinn");
    expect(await refusedStatus(withToken(sandbox.urls.webSocket, accessToken))).toBe(401);
    expect(sandbox.logLines.filter((line) => /refused +401 no token/.test(line))).toHaveLength(1);
  });
});
