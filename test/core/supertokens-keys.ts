import { createSign, generateKeyPairSync, type KeyObject } from "node:crypto";

/** A SuperTokens-shaped signing key and JWKS, made in the test: no SuperTokens core runs here. */
export class TestSigningKey {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;

  constructor(readonly kid = `d-${Date.now()}`) {
    const pair = generateKeyPairSync("rsa", { modulusLength: 2048 });
    this.privateKey = pair.privateKey;
    this.publicKey = pair.publicKey;
  }

  jwk() {
    return { ...this.publicKey.export({ format: "jwk" }), kid: this.kid, alg: "RS256", use: "sig" };
  }

  sign(payload: Record<string, unknown>, header: Record<string, unknown> = {}): string {
    const head = { alg: "RS256", typ: "JWT", kid: this.kid, version: "5", ...header };
    const input = `${b64url(JSON.stringify(head))}.${b64url(JSON.stringify(payload))}`;
    const signature = createSign("RSA-SHA256").update(input).sign(this.privateKey);
    return `${input}.${signature.toString("base64url")}`;
  }
}

export const b64url = (text: string) => Buffer.from(text).toString("base64url");

export const jwksOf = (...keys: TestSigningKey[]) => ({ keys: keys.map((key) => key.jwk()) });

/** A SuperTokens session access token payload, valid for an hour from `nowSeconds`. */
export function sessionPayload(issuer: string, nowSeconds = Math.floor(Date.now() / 1000)) {
  return {
    sub: "user-1",
    iat: nowSeconds,
    exp: nowSeconds + 3600,
    tId: "public",
    rsub: "user-1",
    sessionHandle: "session-1",
    refreshTokenHash1: "hash",
    parentRefreshTokenHash1: null,
    antiCsrfToken: null,
    iss: issuer,
    "st-ev": { v: true, t: 0 },
  } as Record<string, unknown>;
}
