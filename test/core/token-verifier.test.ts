import { createHmac, createSign } from "node:crypto";
import { JwtVerifier } from "aws-jwt-verify";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { RejectionReason, TokenRejectedError } from "../../core/errors.js";
import { TokenVerifier } from "../../core/token-verifier.js";
import { b64url, jwksOf, sessionPayload, TestSigningKey } from "./supertokens-keys.js";

const issuer = "https://api.example.com/auth";
const jwksUri = "https://api.example.com/auth/jwt/jwks.json";
const key = new TestSigningKey("d-1700000000000");
const otherKey = new TestSigningKey("d-1700000000001");

/** A fetcher that serves `body` and counts calls, in place of the network. */
function fakeFetcher(body: () => unknown) {
  const fetcher = {
    calls: 0,
    fetch: async (uri: string) => {
      fetcher.calls++;
      expect(uri).toBe(jwksUri);
      const value = body();
      if (value instanceof Error) throw value;
      return new TextEncoder().encode(typeof value === "string" ? value : JSON.stringify(value)).buffer as ArrayBuffer;
    },
  };
  return fetcher;
}

async function rejection(verifier: TokenVerifier, token: string | undefined): Promise<string> {
  const err = await verifier.verify(token).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TokenRejectedError);
  return (err as TokenRejectedError).reason;
}

// Every token check runs with the JWKS still to fetch (the async path) and already cached (the synchronous path).
describe.each([
  ["a cold JWKS cache", false],
  ["a warm JWKS cache", true],
])("TokenVerifier, with %s", (_state, warm) => {
  let fetcher: ReturnType<typeof fakeFetcher>;
  let verifier: TokenVerifier;
  beforeEach(async () => {
    fetcher = fakeFetcher(() => jwksOf(key));
    verifier = new TokenVerifier({ issuer, jwksUri, fetcher });
    if (warm) await verifier.verify(key.sign(sessionPayload(issuer)));
  });

  it("accepts a SuperTokens session token and returns its claims", async () => {
    const claims = await verifier.verify(key.sign({ ...sessionPayload(issuer), email: "ada@example.com" }));
    expect(claims).toMatchObject({ userId: "user-1", sessionHandle: "session-1", tenantId: "public" });
    expect(claims.expiresAt).toBeGreaterThan(Date.now() / 1000);
    expect(claims.name).toBe("ada@example.com");
  });

  it("fetches the JWKS once and reuses it", async () => {
    for (let i = 0; i < 5; i++) await verifier.verify(key.sign(sessionPayload(issuer)));
    expect(fetcher.calls).toBe(1);
  });

  it.each([
    ["no token", undefined, RejectionReason.Missing],
    ["not a JWT", "hello", RejectionReason.Malformed],
    ["broken base64", "a.b.c", RejectionReason.Malformed],
    [
      "a token several KB long",
      key.sign({ ...sessionPayload(issuer), pad: "x".repeat(5000) }),
      RejectionReason.Malformed,
    ],
  ])("refuses %s", async (_name, token, reason) => {
    expect(await rejection(verifier, token)).toBe(reason);
  });

  it("refuses an expired token", async () => {
    const past = Math.floor(Date.now() / 1000) - 7200;
    expect(await rejection(verifier, key.sign(sessionPayload(issuer, past)))).toBe(RejectionReason.Expired);
  });

  it("refuses a tampered payload", async () => {
    const [head, , sig] = key.sign(sessionPayload(issuer)).split(".");
    const forged = b64url(JSON.stringify({ ...sessionPayload(issuer), sub: "admin" }));
    expect(await rejection(verifier, `${head}.${forged}.${sig}`)).toBe(RejectionReason.BadSignature);
  });

  it("refuses a token signed by another key under a known kid", async () => {
    const impostor = new TestSigningKey(key.kid);
    expect(await rejection(verifier, impostor.sign(sessionPayload(issuer)))).toBe(RejectionReason.BadSignature);
  });

  it.each([
    ["another issuer", "https://evil.example.com/auth"],
    ["a trailing slash", `${issuer}/`],
    ["other case", issuer.toUpperCase()],
  ])("refuses an issuer differing by %s", async (_name, iss) => {
    expect(await rejection(verifier, key.sign({ ...sessionPayload(issuer), iss }))).toBe(RejectionReason.WrongIssuer);
  });

  it("refuses an unknown kid, and does not refetch the JWKS for every such token", async () => {
    for (let i = 0; i < 20; i++) {
      expect(await rejection(verifier, otherKey.sign(sessionPayload(issuer)))).toBe(RejectionReason.UnknownKey);
    }
    expect(fetcher.calls).toBeLessThanOrEqual(2);
  });

  it("refuses a token without kid", async () => {
    const header = b64url(JSON.stringify({ alg: "RS256", typ: "JWT" }));
    const [, body, sig] = key.sign(sessionPayload(issuer)).split(".");
    expect(await rejection(verifier, `${header}.${body}.${sig}`)).toBe(RejectionReason.Malformed);
  });

  it("refuses alg none", async () => {
    const header = b64url(JSON.stringify({ alg: "none", typ: "JWT", kid: key.kid }));
    const token = `${header}.${b64url(JSON.stringify(sessionPayload(issuer)))}.`;
    expect([RejectionReason.Malformed, RejectionReason.BadAlgorithm]).toContain(await rejection(verifier, token));
  });

  it("refuses HS256 signed with the RSA public key as the secret", async () => {
    const header = b64url(JSON.stringify({ alg: "HS256", typ: "JWT", kid: key.kid }));
    const input = `${header}.${b64url(JSON.stringify(sessionPayload(issuer)))}`;
    const secret = key.publicKey.export({ format: "pem", type: "spki" });
    const token = `${input}.${createHmac("sha256", secret).update(input).digest("base64url")}`;
    expect([RejectionReason.Malformed, RejectionReason.BadAlgorithm]).toContain(await rejection(verifier, token));
  });

  it("refuses RS512 under a JWK that names no alg", async () => {
    const { alg: _alg, ...jwk } = key.jwk();
    const lenient = new TokenVerifier({ issuer, jwksUri, fetcher: fakeFetcher(() => ({ keys: [jwk] })) });
    if (warm) await lenient.verify(key.sign(sessionPayload(issuer)));
    const input = `${b64url(JSON.stringify({ alg: "RS512", typ: "JWT", kid: key.kid }))}.${b64url(JSON.stringify(sessionPayload(issuer)))}`;
    const token = `${input}.${createSign("RSA-SHA512").update(input).sign(key.privateKey).toString("base64url")}`;
    expect(await rejection(lenient, token)).toBe(RejectionReason.BadAlgorithm);
  });

  it("refuses a non-session token (stt: 1)", async () => {
    const token = key.sign({ ...sessionPayload(issuer), stt: 1 });
    expect(await rejection(verifier, token)).toBe(RejectionReason.NotASessionToken);
  });

  it("accepts stt: 0", async () => {
    await expect(verifier.verify(key.sign({ ...sessionPayload(issuer), stt: 0 }))).resolves.toBeDefined();
  });

  it.each([
    ["sub missing", { sub: undefined }],
    ["sessionHandle missing", { sessionHandle: undefined }],
  ])("refuses %s", async (_name, override) => {
    const token = key.sign({ ...sessionPayload(issuer), ...override });
    expect(await rejection(verifier, token)).toBe(RejectionReason.MissingClaim);
  });

  it("refuses a sub that is not a string", async () => {
    const token = key.sign({ ...sessionPayload(issuer), sub: 42 });
    expect([RejectionReason.Malformed, RejectionReason.MissingClaim]).toContain(await rejection(verifier, token));
  });

  it("refuses a token whose nbf is in the future", async () => {
    const token = key.sign({ ...sessionPayload(issuer), nbf: Math.floor(Date.now() / 1000) + 600 });
    expect(await rejection(verifier, token)).toBe(RejectionReason.NotYetValid);
  });
});

describe("TokenVerifier's JWKS fetching", () => {
  it("fails closed when the JWKS cannot be fetched or is garbage", async () => {
    const down = new TokenVerifier({ issuer, jwksUri, fetcher: fakeFetcher(() => new Error("ECONNREFUSED")) });
    expect(await rejection(down, key.sign(sessionPayload(issuer)))).toBe(RejectionReason.JwksUnavailable);
    const garbage = new TokenVerifier({ issuer, jwksUri, fetcher: fakeFetcher(() => "<html>") });
    expect(await rejection(garbage, key.sign(sessionPayload(issuer)))).toBe(RejectionReason.JwksUnavailable);
  });

  it("refuses a plain-http JWKS unless it is on loopback and allowed", async () => {
    const remote = new TokenVerifier({ issuer, jwksUri: "http://api.example.com/auth/jwt/jwks.json" });
    expect(await rejection(remote, key.sign(sessionPayload(issuer)))).toBe(RejectionReason.JwksUnavailable);
    const remoteAllowed = new TokenVerifier({
      issuer,
      jwksUri: "http://api.example.com/auth/jwt/jwks.json",
      allowInsecureLoopback: true,
    });
    expect(await rejection(remoteAllowed, key.sign(sessionPayload(issuer)))).toBe(RejectionReason.JwksUnavailable);
  });

  it("does not refetch a JWKS that just failed, and tries again after the cool-down", async () => {
    let now = 1_000_000;
    let down = true;
    const flaky = fakeFetcher(() => (down ? new Error("ECONNREFUSED") : jwksOf(key)));
    const guarded = new TokenVerifier({ issuer, jwksUri, fetcher: flaky, clock: () => now });
    for (let i = 0; i < 10; i++) {
      expect(await rejection(guarded, key.sign(sessionPayload(issuer)))).toBe(RejectionReason.JwksUnavailable);
    }
    expect(flaky.calls).toBe(1);
    down = false;
    now += 5000;
    await expect(guarded.verify(key.sign(sessionPayload(issuer)))).resolves.toMatchObject({ userId: "user-1" });
    expect(flaky.calls).toBe(2);
  });
});

describe("TokenVerifier with the signing key cached", () => {
  let fetcher: ReturnType<typeof fakeFetcher>;
  let verifier: TokenVerifier;
  let jwks: ReturnType<typeof jwksOf> | Error;
  let asyncVerify: ReturnType<typeof vi.spyOn>;
  beforeEach(async () => {
    jwks = jwksOf(key);
    fetcher = fakeFetcher(() => jwks);
    verifier = new TokenVerifier({ issuer, jwksUri, fetcher });
    await verifier.verify(key.sign(sessionPayload(issuer)));
    asyncVerify = vi.spyOn(JwtVerifier.prototype, "verify");
  });
  afterEach(() => {
    asyncVerify.mockRestore();
  });

  it("verifies a token of a cached kid synchronously, without the async JWKS path", async () => {
    await expect(verifier.verify(key.sign(sessionPayload(issuer)))).resolves.toMatchObject({ userId: "user-1" });
    expect(asyncVerify).not.toHaveBeenCalled();
    expect(fetcher.calls).toBe(1);
  });

  it("refuses a bad token of a cached kid without the async JWKS path", async () => {
    const impostor = new TestSigningKey(key.kid);
    expect(await rejection(verifier, impostor.sign(sessionPayload(issuer)))).toBe(RejectionReason.BadSignature);
    expect(asyncVerify).not.toHaveBeenCalled();
    expect(fetcher.calls).toBe(1);
  });

  it("refetches once for an unknown kid, refuses it, and holds back further refetches", async () => {
    for (let i = 0; i < 5; i++) {
      expect(await rejection(verifier, otherKey.sign(sessionPayload(issuer)))).toBe(RejectionReason.UnknownKey);
    }
    expect(asyncVerify).toHaveBeenCalledTimes(5);
    expect(fetcher.calls).toBe(2);
    await expect(verifier.verify(key.sign(sessionPayload(issuer)))).resolves.toMatchObject({ userId: "user-1" });
    expect(fetcher.calls).toBe(2);
  });

  it("picks up a rotated key by refetching the JWKS, then verifies it from the cache", async () => {
    jwks = jwksOf(key, otherKey);
    await expect(verifier.verify(otherKey.sign(sessionPayload(issuer)))).resolves.toMatchObject({ userId: "user-1" });
    expect(fetcher.calls).toBe(2);
    await expect(verifier.verify(otherKey.sign(sessionPayload(issuer)))).resolves.toMatchObject({ userId: "user-1" });
    expect(asyncVerify).toHaveBeenCalledTimes(1);
    expect(fetcher.calls).toBe(2);
  });

  it("keeps the cool-down for a new kid while the JWKS is down, and the cached kid working", async () => {
    jwks = new Error("ECONNREFUSED");
    for (let i = 0; i < 5; i++) {
      expect(await rejection(verifier, otherKey.sign(sessionPayload(issuer)))).toBe(RejectionReason.JwksUnavailable);
    }
    expect(fetcher.calls).toBe(2);
    await expect(verifier.verify(key.sign(sessionPayload(issuer)))).resolves.toMatchObject({ userId: "user-1" });
  });
});
