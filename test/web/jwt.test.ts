import { describe, expect, it } from "vitest";
import {
  decodeJwtPayload,
  needsRefresh,
  REFRESH_MARGIN_SECONDS,
  tokenExpiry,
  tokenSubject,
} from "../../web/src/jwt.js";

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
const jwt = (payload: unknown) => `${b64url({ alg: "RS256", kid: "d-1" })}.${b64url(payload)}.c2lnbmF0dXJl`;

describe("decodeJwtPayload / tokenExpiry", () => {
  it("reads exp from a SuperTokens-shaped token", () => {
    const token = jwt({ sub: "u1", exp: 1_900_000_000, sessionHandle: "h", name: "Zoë 🦊" });
    expect(tokenExpiry(token)).toBe(1_900_000_000);
    expect(decodeJwtPayload(token)?.name).toBe("Zoë 🦊"); // UTF-8 survives base64url
  });

  it("handles base64url without padding and with - and _", () => {
    // Chosen so the encoded payload contains '-' or '_' and needs padding.
    const payload = { exp: 1_700_000_000, x: "???>>>~~~" };
    const token = jwt(payload);
    expect(token.split(".")[1]).toMatch(/[-_]/);
    expect(tokenExpiry(token)).toBe(1_700_000_000);
  });

  it.each([
    ["not a JWT", "opaque-token"],
    ["two parts", "a.b"],
    ["empty payload", "a..c"],
    ["broken base64", "a.%%%.c"],
    ["not JSON", `a.${Buffer.from("nope").toString("base64url")}.c`],
    ["JSON but not an object", `a.${b64url([1, 2])}.c`],
  ])("returns undefined for %s", (_, token) => {
    expect(decodeJwtPayload(token)).toBeUndefined();
    expect(tokenExpiry(token)).toBeUndefined();
  });

  it("reads sub, the user id, and nothing that is not a non-empty string", () => {
    expect(tokenSubject(jwt({ sub: "u1", exp: 1_900_000_000 }))).toBe("u1");
    expect(tokenSubject(jwt({ sub: 42 }))).toBeUndefined();
    expect(tokenSubject(jwt({ sub: "" }))).toBeUndefined();
    expect(tokenSubject("opaque-token")).toBeUndefined();
  });

  it("ignores an exp that is not a number", () => {
    expect(tokenExpiry(jwt({ exp: "1900000000" }))).toBeUndefined();
    expect(tokenExpiry(jwt({}))).toBeUndefined();
  });
});

describe("needsRefresh (the freshness rule)", () => {
  const now = 1_800_000_000_000; // ms
  const expIn = (seconds: number) => jwt({ exp: now / 1000 + seconds });

  it("keeps a token with more than the margin left", () => {
    expect(REFRESH_MARGIN_SECONDS).toBe(60);
    expect(needsRefresh(expIn(3600), now)).toBe(false);
    expect(needsRefresh(expIn(61), now)).toBe(false);
  });

  it("refreshes a token within the margin, at it, or already expired", () => {
    expect(needsRefresh(expIn(60), now)).toBe(true);
    expect(needsRefresh(expIn(5), now)).toBe(true);
    expect(needsRefresh(expIn(-10), now)).toBe(true);
  });

  it("refreshes a token whose expiry cannot be read", () => {
    expect(needsRefresh("opaque", now)).toBe(true);
  });

  it("takes a custom margin", () => {
    expect(needsRefresh(expIn(100), now, 120)).toBe(true);
    expect(needsRefresh(expIn(100), now, 30)).toBe(false);
  });
});
