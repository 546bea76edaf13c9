import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigurationError } from "../../core/errors.js";
import type { MessageFrame } from "../../core/protocol.js";
import { startSandbox } from "../../sandbox/sandbox.js";
import { connectionRecords, startTestSandbox, type TestSandbox } from "../support/sandbox.js";
import { hs256Jwt, newRsaKey, startTokenIssuer, type TokenIssuer } from "../support/token-issuer.js";
import { openClient, refusedStatus } from "../support/ws-client.js";

// AUTH_JWKS_URI/AUTH_ISSUER mode: an issuer this repository's sandbox did not write (its own keys, JWKS server and
// issuer string) is trusted exactly as the stack trusts SuperTokens, and the development issuer is not.
describe("external issuer", () => {
  let issuer: TokenIssuer;
  let sandbox: TestSandbox;
  beforeAll(async () => {
    issuer = await startTokenIssuer({ issuer: "https://auth.example.test/api/auth" });
    sandbox = await startTestSandbox({ auth: { kind: "external", jwksUri: issuer.jwksUri, issuer: issuer.issuer } });
  });
  afterAll(async () => {
    await sandbox.close();
    await issuer.close();
  });

  it("tells the page to sign in with SuperTokens at the issuer", async () => {
    expect(await (await fetch(sandbox.urls.config)).json()).toEqual({
      webSocketUrl: sandbox.urls.webSocket,
      tokenTransport: "query",
      auth: { mode: "supertokens", apiDomain: "https://auth.example.test", apiBasePath: "/api/auth" },
      appName: "Chat",
      rateLimit: { burst: 10, perSecond: 2 },
    });
    expect(sandbox.devIssuer).toBeUndefined();
    expect(sandbox.env).toMatchObject({ JWKS_URI: issuer.jwksUri, ISSUER: issuer.issuer });
  });

  it("offers no development sign-in", async () => {
    const response = await fetch(new URL("/auth/dev/signin", sandbox.urls.page), { method: "POST", body: "{}" });
    expect(response.status).toBe(404);
  });

  it("lets clients with its tokens connect and chat, named by the name or email claim", async () => {
    const ana = await openClient(sandbox.urls.webSocket, {
      token: issuer.sessionToken({ userId: "st-user-ana", name: "Ana" }),
    });
    const ben = await openClient(sandbox.urls.webSocket, {
      token: issuer.sessionToken({ userId: "st-user-ben", claims: { email: "ben@example.test" } }),
    });

    ben.send({ action: "sendmessage", text: "from ben" });
    ana.send({ action: "sendmessage", text: "from ana" });

    const byText = (text: string) => (frame: unknown) => (frame as MessageFrame).text === text;
    expect(await ana.waitFor(byText("from ben"))).toMatchObject({
      sender: { userId: "st-user-ben", name: "ben@example.test" },
    });
    expect(await ben.waitFor(byText("from ana"))).toMatchObject({ sender: { userId: "st-user-ana", name: "Ana" } });
    await Promise.all([ana.close(), ben.close()]);
  });

  it.each([
    ["an expired token", (i: TokenIssuer) => i.sessionToken({ userId: "u", ttlSeconds: -60 }), "expired"],
    [
      "a token signed by a key outside its JWKS",
      (i: TokenIssuer) => i.sessionToken({ userId: "u", key: newRsaKey() }),
      "bad_signature",
    ],
    [
      "a token with another issuer",
      (i: TokenIssuer) => i.sessionToken({ userId: "u", claims: { iss: "https://auth.example.test/api/auth/" } }),
      "wrong_issuer",
    ],
    [
      "a token with an unknown kid",
      (i: TokenIssuer) => i.sessionToken({ userId: "u", header: { kid: "s-unknown" } }),
      "unknown_key",
    ],
    [
      "a non-session token (stt 1)",
      (i: TokenIssuer) => i.sessionToken({ userId: "u", claims: { stt: 1 } }),
      "not_a_session_token",
    ],
    [
      "an HS256 token keyed with the public key",
      (i: TokenIssuer) =>
        hs256Jwt({ kid: i.kid }, { sub: "u", sessionHandle: "s", iss: i.issuer, exp: 9_999_999_999 }, i.publicKeyPem),
      "(bad_algorithm|malformed)",
    ],
    [
      "a token without sessionHandle",
      (i: TokenIssuer) => i.sessionToken({ userId: "u", claims: { sessionHandle: undefined } }),
      "missing_claim",
    ],
  ])("refuses %s with 401", async (_label, make, reason) => {
    const mark = sandbox.logLines.length;
    expect(await refusedStatus(sandbox.urls.webSocket, { token: make(issuer) })).toBe(401);
    expect(sandbox.logLines.slice(mark)).toContainEqual(expect.stringMatching(new RegExp(`refused +401 ${reason}`)));
  });

  it("refuses a token from a development issuer", async () => {
    const other = await startTestSandbox();
    try {
      const token = other.devIssuer?.sign({ userId: "dev-x", name: "x" }).token;
      expect(await refusedStatus(sandbox.urls.webSocket, { token })).toBe(401);
    } finally {
      await other.close();
    }
  });

  it("leaves no records behind, and fetched the JWKS once for all of the above", async () => {
    expect(await connectionRecords(sandbox)).toEqual([]);
    // Unknown kids cost a refetch (then aws-jwt-verify's penalty box); valid tokens are served from the cache.
    expect(issuer.jwksRequests).toBeLessThanOrEqual(2);
  });

  it("refuses to start with a plain-http JWKS that is not on loopback", async () => {
    const start = startSandbox({
      port: 0,
      log: () => {},
      auth: { kind: "external", jwksUri: "http://auth.example.test/jwt/jwks.json", issuer: "http://auth.example.test" },
    });
    await expect(start).rejects.toBeInstanceOf(ConfigurationError);
    await expect(start).rejects.toThrow(/AUTH_JWKS_URI/);
  });
});
