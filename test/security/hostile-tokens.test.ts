import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHAT_SUBPROTOCOL } from "../../core/protocol.js";
import { connectionRecords } from "../support/sandbox.js";
import { hs256Jwt, newRsaKey, rawJwt, startTokenIssuer, type TokenIssuer } from "../support/token-issuer.js";
import { HandshakeRefused, type OpenOptions, openClient, refusedStatus, withToken } from "../support/ws-client.js";
import { type RotatingIssuer, startRotatingIssuer } from "./rotating-issuer.js";
import {
  authorizerRuns,
  closeAndSettle,
  connectRuns,
  expectNoTokenInLogs,
  jsonEntries,
  roomItems,
  type SecuritySandbox,
  startSecuritySandbox,
} from "./security-sandbox.js";

// Hostile tokens thrown at the `$connect` authorizer through the sandbox's real upgrade path (identity source,
// REQUEST authorizer event, API Gateway's reading of the outcome, `$connect`), trusting an issuer that runs outside
// the sandbox (test/support/token-issuer.ts) so that its JWKS can go down, slow or bad. Every refusal must be a 401,
// leave no trace in DynamoDB, never run `$connect`, and log a reason category but no token.

/** The issuer string; a trailing slash or another case is another issuer. */
const ISSUER = "https://auth.example.test/api/auth";
/** The authorizer must fail closed long before API Gateway's 29 s integration limit: a bound on a hang. */
const HANG_BOUND_MS = 10_000;

const now = () => Math.floor(Date.now() / 1000);
/** A SuperTokens-shaped payload, for tokens assembled by hand. */
const payloadOf = (issuer: TokenIssuer, claims: Record<string, unknown> = {}) => ({
  sub: "st-user-1",
  iat: now(),
  exp: now() + 3600,
  tId: "public",
  rsub: "st-user-1",
  sessionHandle: randomUUID(),
  refreshTokenHash1: "0".repeat(64),
  parentRefreshTokenHash1: null,
  antiCsrfToken: null,
  iss: issuer.issuer,
  ...claims,
});

/** What the handlers logged about the last refusal: the reasons of `connect refused` lines since `mark`. */
function refusalReasons(sandbox: SecuritySandbox, mark: number): string[] {
  return jsonEntries(sandbox)
    .slice(mark)
    .filter((entry) => entry.message === "connect refused")
    .map((entry) => String(entry.reason));
}

/**
 * Opens a socket that must be refused, and checks everything a refusal promises: the status, the logged reason
 * category (and nothing else), no `$connect`, no connection record or membership, no token in either log.
 */
async function expectRefused(
  sandbox: SecuritySandbox,
  url: string,
  options: OpenOptions & { tokens: readonly string[]; reason: string },
): Promise<void> {
  const jsonMark = sandbox.jsonLines.length;
  const logMark = sandbox.logLines.length;
  const connectsBefore = connectRuns(sandbox).length;

  expect(await refusedStatus(url, options)).toBe(401);

  const reasons = refusalReasons(sandbox, jsonMark);
  expect(reasons).toEqual([options.reason]);
  // The readable log names the category too, unless the authorizer is a cold-started one that writes JSON only.
  const readable = sandbox.coldStarted ? "unauthorized" : options.reason;
  expect(sandbox.logLines.slice(logMark)).toContainEqual(
    expect.stringMatching(new RegExp(`refused +401 ${readable} `)),
  );
  expect(connectRuns(sandbox)).toHaveLength(connectsBefore);
  expect(await connectionRecords(sandbox)).toEqual([]);
  expect(await roomItems(sandbox, "member#")).toEqual([]);
  expectNoTokenInLogs(sandbox, options.tokens);
}

describe("hostile tokens in the query string", () => {
  let issuer: TokenIssuer;
  let sandbox: SecuritySandbox;
  beforeAll(async () => {
    issuer = await startTokenIssuer({ issuer: ISSUER });
    sandbox = await startSecuritySandbox({
      auth: { kind: "external", jwksUri: issuer.jwksUri, issuer: issuer.issuer },
    });
  });
  afterAll(async () => {
    await sandbox.close();
    await issuer.close();
  });

  it("admits a well-formed token from the issuer (so every refusal below is the token's doing)", async () => {
    const client = await openClient(sandbox.urls.webSocket, { token: issuer.sessionToken({ userId: "st-good" }) });
    const [record] = await connectionRecords(sandbox);
    expect(record).toMatchObject({ userId: "st-good" });
    await closeAndSettle(sandbox, client);
    expect(await connectionRecords(sandbox)).toEqual([]);
  });

  const cases: [string, string, (i: TokenIssuer) => string][] = [
    ["not a JWT", "malformed", () => "not-a-jwt"],
    ["three parts outside the base64url alphabet", "malformed", () => "eyJ!!!%%%.@@@***.###$$$"],
    ["three parts that do not decode as base64url", "malformed", () => "abcde.abcde.abcde"],
    [
      "three parts whose header is broken JSON",
      "malformed",
      (i) => rawJwt(`{"alg":"RS256","kid":"${i.kid}"`, JSON.stringify(payloadOf(i)), "c2lnbmF0dXJl"),
    ],
    [
      "three parts whose payload is broken JSON",
      "malformed",
      (i) => rawJwt(JSON.stringify({ alg: "RS256", typ: "JWT", kid: i.kid }), '{"sub":"st-user-1",', "c2lnbmF0dXJl"),
    ],
    [
      "a good token with its signature cut off",
      "malformed",
      (i) => i.sessionToken({ userId: "st-user-1" }).replace(/[^.]*$/, ""),
    ],
    [
      "alg none under the issuer's kid",
      "bad_algorithm",
      (i) => rawJwt(JSON.stringify({ alg: "none", typ: "JWT", kid: i.kid }), JSON.stringify(payloadOf(i)), "c2ln"),
    ],
    [
      "alg none with no signature",
      "malformed",
      (i) => rawJwt(JSON.stringify({ alg: "none", typ: "JWT", kid: i.kid }), JSON.stringify(payloadOf(i))),
    ],
    [
      "HS256 signed with the RSA public key as the HMAC secret",
      "bad_algorithm",
      (i) => hs256Jwt({ kid: i.kid }, payloadOf(i), i.publicKeyPem),
    ],
    [
      "RS256 signed by another key under the issuer's kid",
      "bad_signature",
      (i) => i.sessionToken({ userId: "st-user-1", key: newRsaKey() }),
    ],
    [
      "an unknown kid",
      "unknown_key",
      (i) => i.sessionToken({ userId: "st-user-1", header: { kid: `s-${randomUUID()}` } }),
    ],
    ["no kid", "malformed", (i) => i.sessionToken({ userId: "st-user-1", header: { kid: undefined } })],
    ["an expired token", "expired", (i) => i.sessionToken({ userId: "st-user-1", ttlSeconds: -60 })],
    [
      "nbf in the future",
      "not_yet_valid",
      (i) => i.sessionToken({ userId: "st-user-1", claims: { nbf: now() + 3600 } }),
    ],
    [
      "another issuer",
      "wrong_issuer",
      (i) => i.sessionToken({ userId: "st-user-1", claims: { iss: "https://evil.example.test/api/auth" } }),
    ],
    [
      "the issuer with a trailing slash",
      "wrong_issuer",
      (i) => i.sessionToken({ userId: "st-user-1", claims: { iss: `${ISSUER}/` } }),
    ],
    [
      "the issuer's host in another case",
      "wrong_issuer",
      (i) => i.sessionToken({ userId: "st-user-1", claims: { iss: "https://AUTH.example.test/api/auth" } }),
    ],
    [
      "the issuer's path in another case",
      "wrong_issuer",
      (i) => i.sessionToken({ userId: "st-user-1", claims: { iss: "https://auth.example.test/API/auth" } }),
    ],
    [
      "stt: 1 (an OAuth2 token, not a session)",
      "not_a_session_token",
      (i) => i.sessionToken({ userId: "st-user-1", claims: { stt: 1 } }),
    ],
    ["no sub", "missing_claim", (i) => i.sessionToken({ userId: "st-user-1", claims: { sub: undefined } })],
    [
      "no sessionHandle",
      "missing_claim",
      (i) => i.sessionToken({ userId: "st-user-1", claims: { sessionHandle: undefined } }),
    ],
    ["a sub that is a number", "malformed", (i) => i.sessionToken({ userId: "x", claims: { sub: 42 } })],
    [
      "a sub that is an object",
      "malformed",
      (i) => i.sessionToken({ userId: "x", claims: { sub: { toString: "st-admin" } } }),
    ],
  ];

  it.each(cases)("refuses %s", async (_label, reason, make) => {
    const token = make(issuer);
    await expectRefused(sandbox, sandbox.urls.webSocket, { token, tokens: [token], reason });
  });

  it("refuses the token parameter given twice, even when both tokens are good", async () => {
    const first = issuer.sessionToken({ userId: "st-alice" });
    const second = issuer.sessionToken({ userId: "st-mallory" });
    const url = withToken(withToken(sandbox.urls.webSocket, first), second);
    await expectRefused(sandbox, url, { tokens: [first, second], reason: "malformed" });
  });

  it("refuses a token several KB long at the URL limit, before any authorizer runs", async () => {
    const token = issuer.sessionToken({ userId: "st-user-1", claims: { pad: "x".repeat(6000) } });
    const authorizersBefore = authorizerRuns(sandbox).length;
    // API Gateway's 4,096-character URL limit answers first; the authorizer's own 4,096-character limit is the
    // subprotocol transport's guard (below).
    expect(await refusedStatus(sandbox.urls.webSocket, { token })).toBe(414);
    expect(authorizerRuns(sandbox)).toHaveLength(authorizersBefore);
    expect(await connectionRecords(sandbox)).toEqual([]);
    expectNoTokenInLogs(sandbox, [token]);
  });

  it("answers a flood of unknown kids without fetching the JWKS for each", async () => {
    const tokens = Array.from({ length: 50 }, () =>
      issuer.sessionToken({ userId: "st-user-1", header: { kid: `d-${Date.now()}-${randomUUID()}` } }),
    );
    const fetchesBefore = issuer.jwksRequests;
    const jsonMark = sandbox.jsonLines.length;

    const statuses = await Promise.all(tokens.map((token) => refusedStatus(sandbox.urls.webSocket, { token })));

    expect(statuses).toEqual(tokens.map(() => 401));
    expect(refusalReasons(sandbox, jsonMark)).toEqual(tokens.map(() => "unknown_key"));
    expect(issuer.jwksRequests - fetchesBefore).toBeLessThanOrEqual(3);
    expect(await connectionRecords(sandbox)).toEqual([]);
    expectNoTokenInLogs(sandbox, tokens);
  });

  it("never ran $connect for any of them", () => {
    expect(connectRuns(sandbox)).toHaveLength(1); // the good token's
  });
});

describe("hostile tokens as a WebSocket subprotocol", () => {
  let issuer: TokenIssuer;
  let sandbox: SecuritySandbox;
  beforeAll(async () => {
    issuer = await startTokenIssuer({ issuer: ISSUER });
    sandbox = await startSecuritySandbox({
      auth: { kind: "external", jwksUri: issuer.jwksUri, issuer: issuer.issuer },
      tokenTransport: "subprotocol",
    });
  });
  afterAll(async () => {
    await sandbox.close();
    await issuer.close();
  });

  const asProtocol = (...values: string[]) => ({ protocols: [CHAT_SUBPROTOCOL, ...values] });

  it("admits a good token offered as a subprotocol, and echoes the chat protocol", async () => {
    const client = await openClient(sandbox.urls.webSocket, asProtocol(issuer.sessionToken({ userId: "st-good" })));
    expect(client.socket.protocol).toBe(CHAT_SUBPROTOCOL);
    await closeAndSettle(sandbox, client);
  });

  it.each<[string, string, (i: TokenIssuer) => string]>([
    ["not a JWT", "malformed", () => "not-a-jwt"],
    ["a bad signature", "bad_signature", (i) => i.sessionToken({ userId: "st-user-1", key: newRsaKey() })],
    ["an expired token", "expired", (i) => i.sessionToken({ userId: "st-user-1", ttlSeconds: -60 })],
    ["another issuer", "wrong_issuer", (i) => i.sessionToken({ userId: "u", claims: { iss: `${ISSUER}/` } })],
  ])("refuses %s", async (_label, reason, make) => {
    const token = make(issuer);
    await expectRefused(sandbox, sandbox.urls.webSocket, { ...asProtocol(token), tokens: [token], reason });
  });

  it("refuses a token several KB long before verifying it, however well signed", async () => {
    const token = issuer.sessionToken({ userId: "st-user-1", claims: { pad: "x".repeat(6000) } });
    const fetchesBefore = issuer.jwksRequests;
    await expectRefused(sandbox, sandbox.urls.webSocket, {
      ...asProtocol(token),
      tokens: [token],
      reason: "malformed",
    });
    expect(issuer.jwksRequests).toBe(fetchesBefore);
  });

  it("refuses two tokens in the protocol list", async () => {
    const [first, second] = [issuer.sessionToken({ userId: "st-a" }), issuer.sessionToken({ userId: "st-b" })];
    await expectRefused(sandbox, sandbox.urls.webSocket, {
      ...asProtocol(first, second),
      tokens: [first, second],
      reason: "malformed",
    });
  });

  it("refuses a token in the query string as well as in the header", async () => {
    const [first, second] = [issuer.sessionToken({ userId: "st-a" }), issuer.sessionToken({ userId: "st-b" })];
    await expectRefused(sandbox, withToken(sandbox.urls.webSocket, first), {
      ...asProtocol(second),
      tokens: [first, second],
      reason: "malformed",
    });
  });

  it("refuses a token offered without the chat protocol beside it", async () => {
    const token = issuer.sessionToken({ userId: "st-user-1" });
    await expectRefused(sandbox, sandbox.urls.webSocket, {
      protocols: ["some-other-protocol", token],
      tokens: [token],
      reason: "missing",
    });
  });
});

describe("a JWKS endpoint that misbehaves", () => {
  let issuer: TokenIssuer;
  let sandbox: SecuritySandbox;
  beforeAll(async () => {
    issuer = await startTokenIssuer({ issuer: ISSUER });
    sandbox = await startSecuritySandbox({
      auth: { kind: "external", jwksUri: issuer.jwksUri, issuer: issuer.issuer },
    });
  });
  afterAll(async () => {
    await sandbox.close();
    await issuer.close();
  });

  /** A cold authorizer (nothing cached yet) meets the JWKS behaving as told, with a token that is otherwise good. */
  async function refusalWithJwks(behaviour: Parameters<TokenIssuer["setJwks"]>[0]) {
    issuer.setJwks(behaviour);
    sandbox.coldStart();
    const token = issuer.sessionToken({ userId: "st-user-1" });
    const fetchesBefore = issuer.jwksRequests;
    const started = performance.now();
    await expectRefused(sandbox, sandbox.urls.webSocket, { token, tokens: [token], reason: "jwks_unavailable" });
    return { elapsedMs: performance.now() - started, fetches: issuer.jwksRequests - fetchesBefore };
  }

  it("fails closed with 401 when the JWKS answers 503", async () => {
    const { fetches } = await refusalWithJwks({ kind: "down" });
    expect(fetches).toBeGreaterThanOrEqual(1);
  });

  it("fails closed with 401 when the JWKS answers something that is not JSON", async () => {
    await refusalWithJwks({ kind: "garbage" });
  });

  it("fails closed with 401 within its own timeout when the JWKS hangs, not at the 29 s integration limit", async () => {
    const { elapsedMs } = await refusalWithJwks({ kind: "slow", delayMs: 20_000 });
    // A bound on a hang, not a speed target: core/jwks-fetcher.ts gives up after JWKS_RESPONSE_TIMEOUT_MS.
    expect(elapsedMs).toBeLessThan(HANG_BOUND_MS);
  });

  it("admits again once the JWKS is back", async () => {
    issuer.setJwks({ kind: "ok" });
    sandbox.coldStart();
    const client = await openClient(sandbox.urls.webSocket, { token: issuer.sessionToken({ userId: "st-back" }) });
    await closeAndSettle(sandbox, client);
  });

  it("does not fetch the JWKS once per request when a flood of unknown kids meets it down", async () => {
    issuer.setJwks({ kind: "down" });
    sandbox.coldStart();
    const tokens = Array.from({ length: 50 }, () =>
      issuer.sessionToken({ userId: "st-user-1", header: { kid: `d-${randomUUID()}` } }),
    );
    const fetchesBefore = issuer.jwksRequests;
    try {
      // One after the other, as a patient attacker would send them: requests in flight together share a fetch anyway.
      for (const token of tokens) {
        const err = await openClient(sandbox.urls.webSocket, { token }).catch((error: unknown) => error);
        expect(err).toBeInstanceOf(HandshakeRefused);
        expect((err as HandshakeRefused).status).toBe(401);
      }
      // aws-jwt-verify's penalty box holds back a refetch only after a fetch that worked but lacked the kid; a fetch
      // that failed holds back nothing, so while the JWKS is down every unknown kid costs a fetch of it.
      expect(issuer.jwksRequests - fetchesBefore).toBeLessThanOrEqual(5);
    } finally {
      issuer.setJwks({ kind: "ok" });
    }
  });
});

describe("key rotation", () => {
  let issuer: RotatingIssuer;
  let sandbox: SecuritySandbox;
  let firstKid: string;
  beforeAll(async () => {
    issuer = await startRotatingIssuer();
    firstKid = issuer.publishKey();
    sandbox = await startSecuritySandbox({
      auth: { kind: "external", jwksUri: issuer.jwksUri, issuer: issuer.issuer },
    });
  });
  afterAll(async () => {
    await sandbox.close();
    await issuer.close();
  });

  const opens = async (token: string) => {
    await closeAndSettle(sandbox, await openClient(sandbox.urls.webSocket, { token }));
  };

  it("admits a token under a key published after the keys were cached, fetching the JWKS once more", async () => {
    await opens(issuer.token(firstKid, "st-before"));
    const fetches = issuer.jwksRequests;
    const nextKid = issuer.publishKey();

    await opens(issuer.token(nextKid, "st-after"));
    await opens(issuer.token(nextKid, "st-after-again"));

    expect(issuer.jwksRequests - fetches).toBe(1);
  });

  it("refuses a retired key on a new instance; a warm one accepts it until recycled (residual risk, SECURITY.md)", async () => {
    issuer.retireKey(firstKid);
    const token = issuer.token(firstKid, "st-old-key");
    // aws-jwt-verify keeps a JWKS without expiry and refetches only for an unknown kid.
    await opens(token);
    sandbox.coldStart();
    await expectRefused(sandbox, sandbox.urls.webSocket, { token, tokens: [token], reason: "unknown_key" });
  });
});
