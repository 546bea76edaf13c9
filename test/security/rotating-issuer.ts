import { createPublicKey, generateKeyPairSync, type KeyObject, randomUUID, sign } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * An issuer whose JWKS changes, as SuperTokens' does when it rotates its dynamic keys (a new key appears before it is
 * first used; an old one leaves once no live token needs it). test/support/token-issuer.ts serves one fixed key.
 */
export interface RotatingIssuer {
  readonly issuer: string;
  readonly jwksUri: string;
  readonly jwksRequests: number;
  /** Makes a key and publishes it; returns its kid (`d-<ms>`, as SuperTokens names dynamic keys). */
  publishKey(): string;
  /** Takes a key out of the JWKS; tokens it signed can still be made with `token`. */
  retireKey(kid: string): void;
  /** A SuperTokens-shaped session token signed by the key `kid`, published or not. */
  token(kid: string, userId: string): string;
  close(): Promise<void>;
}

export async function startRotatingIssuer(): Promise<RotatingIssuer> {
  const keys = new Map<string, KeyObject>();
  const published = new Set<string>();
  let jwksRequests = 0;
  let nextKeyTime = Date.now();
  const server = createServer((req, res) => {
    if (req.url !== "/jwt/jwks.json") return void res.writeHead(404).end();
    jwksRequests++;
    // The public half only: a private key exported as a JWK also carries d, p, q...
    const jwks = [...published].map((kid) => {
      const { n, e } = createPublicKey(keys.get(kid) as KeyObject).export({ format: "jwk" });
      return { kty: "RSA", kid, n, e, alg: "RS256", use: "sig" };
    });
    res.writeHead(200, { "Content-Type": "application/json", "Cache-Control": "max-age=60, must-revalidate" });
    res.end(JSON.stringify({ keys: jwks }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const issuer = `${origin}/auth`;
  const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

  return {
    issuer,
    jwksUri: `${origin}/jwt/jwks.json`,
    get jwksRequests() {
      return jwksRequests;
    },
    publishKey() {
      const kid = `d-${nextKeyTime++}`;
      const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
      keys.set(kid, privateKey);
      published.add(kid);
      return kid;
    },
    retireKey(kid) {
      published.delete(kid);
    },
    token(kid, userId) {
      const key = keys.get(kid);
      if (!key) throw new Error(`no key ${kid}`);
      const iat = Math.floor(Date.now() / 1000);
      const input = `${b64({ alg: "RS256", typ: "JWT", kid, version: "5" })}.${b64({
        sub: userId,
        iat,
        exp: iat + 3600,
        tId: "public",
        rsub: userId,
        sessionHandle: randomUUID(),
        refreshTokenHash1: "0".repeat(64),
        parentRefreshTokenHash1: null,
        antiCsrfToken: null,
        iss: issuer,
      })}`;
      return `${input}.${sign("sha256", Buffer.from(input), key).toString("base64url")}`;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
