import { describe, expect, it } from "vitest";
import { createAuthorizerHandler } from "../../core/handlers/authorizer.js";
import { Logger } from "../../core/logger.js";
import { TokenVerifier } from "../../core/token-verifier.js";
import { authorizerEvent, captureLogs } from "./handler-events.js";
import { jwksOf, sessionPayload, TestSigningKey } from "./supertokens-keys.js";

const issuer = "https://api.example.com/auth";
const key = new TestSigningKey();

function setup() {
  const logs = captureLogs();
  const verifier = new TokenVerifier({
    issuer,
    jwksUri: `${issuer}/jwt/jwks.json`,
    fetcher: { fetch: async () => new TextEncoder().encode(JSON.stringify(jwksOf(key))).buffer as ArrayBuffer },
  });
  const handler = createAuthorizerHandler({ verifier, logger: new Logger({ sink: logs.sink }) });
  return { handler, logs };
}

describe("authorizer handler", () => {
  it("allows $connect for a valid token and passes the session to the integrations", async () => {
    const { handler } = setup();
    const event = authorizerEvent({ token: [key.sign({ ...sessionPayload(issuer), sub: "u-42", tId: "acme" })] });
    const result = await handler(event);
    expect(result.principalId).toBe("u-42");
    expect(result.policyDocument.Statement).toEqual([
      { Action: "execute-api:Invoke", Effect: "Allow", Resource: event.methodArn },
    ]);
    expect(result.context).toMatchObject({ userId: "u-42", sessionHandle: "session-1", tenantId: "acme" });
    expect(Number(result.context?.expiresAt)).toBeGreaterThan(Date.now() / 1000);
  });

  it("throws Unauthorized for a bad token and logs the reason, never the token", async () => {
    const { handler, logs } = setup();
    const token = key.sign({ ...sessionPayload(issuer), iss: "https://evil.example.com/auth" });
    await expect(handler(authorizerEvent({ token: [token] }))).rejects.toThrow(/^Unauthorized$/);
    expect(logs.all()).toContain('"reason":"wrong_issuer"');
    expect(logs.all()).not.toContain(token.split(".")[1]);
    expect(logs.all()).not.toContain(token.split(".")[2]);
  });

  it("refuses a URL that carries the token twice", async () => {
    const { handler, logs } = setup();
    const good = key.sign(sessionPayload(issuer));
    await expect(handler(authorizerEvent({ token: [good, good] }))).rejects.toThrow(/^Unauthorized$/);
    expect(logs.all()).toContain('"reason":"malformed"');
  });

  it("refuses when there is no token at all", async () => {
    const { handler, logs } = setup();
    await expect(handler(authorizerEvent({}))).rejects.toThrow(/^Unauthorized$/);
    expect(logs.all()).toContain('"reason":"missing"');
  });

  it("fails closed with Unauthorized when the verifier breaks unexpectedly", async () => {
    const logs = captureLogs();
    const handler = createAuthorizerHandler({
      verifier: {
        verify: async () => {
          throw new TypeError("boom");
        },
      },
      logger: new Logger({ sink: logs.sink }),
    });
    await expect(handler(authorizerEvent({ token: ["x"] }))).rejects.toThrow(/^Unauthorized$/);
    expect(logs.all()).toContain("authorizer failed");
  });
});
