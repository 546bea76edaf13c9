import { createHmac, generateKeyPairSync, type KeyObject, randomUUID, sign } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A token issuer that no code under `sandbox/` or `core/` wrote: its own keys (plain node:crypto), its own JWKS on a
 * loopback port, its own issuer string. For external-issuer tests and hostile-token tests. Tokens are
 * SuperTokens-shaped by default; anything can be overridden or broken on purpose.
 */
export interface TokenIssuer {
  readonly issuer: string;
  readonly jwksUri: string;
  readonly kid: string;
  /** The public key as PEM: what an HS256 key-confusion attack uses as its secret. */
  readonly publicKeyPem: string;
  /** How many times the JWKS was fetched: a verifier must not fetch it per request. */
  readonly jwksRequests: number;
  /** A SuperTokens-shaped session token, signed with the issuer's current key. */
  sessionToken(options: SessionTokenOptions): string;
  /** Signs any header and payload with RS256, with the issuer's key or `key`. */
  sign(header: Record<string, unknown>, payload: Record<string, unknown>, key?: KeyObject): string;
  /** How the JWKS endpoint answers from now on. */
  setJwks(behaviour: JwksBehaviour): void;
  close(): Promise<void>;
}

export interface SessionTokenOptions {
  userId: string;
  name?: string;
  /** @default 3600; negative for an expired token */
  ttlSeconds?: number;
  /** Claims added or replaced; `undefined` removes one. */
  claims?: Record<string, unknown>;
  /** Header fields added or replaced; `undefined` removes one. */
  header?: Record<string, unknown>;
  /** Sign with this key instead (a key the JWKS does not hold). */
  key?: KeyObject;
}

/** `ok`: the keys; `down`: 503; `garbage`: not JSON; `delayMs`: the keys, late. */
export type JwksBehaviour = { kind: "ok" } | { kind: "down" } | { kind: "garbage" } | { kind: "slow"; delayMs: number };

export interface TokenIssuerOptions {
  /** `iss`. @default `http://127.0.0.1:<port>/external-auth` */
  issuer?: string;
  /** @default `s-<uuid>` (a SuperTokens static key id) */
  kid?: string;
}

/** An RSA key pair not in any JWKS, for tokens with a bad signature. */
export const newRsaKey = (): KeyObject => generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;

/** An HS256 token: what a key-confusion attack sends, with the RSA public key as the HMAC secret. */
export function hs256Jwt(header: Record<string, unknown>, payload: Record<string, unknown>, secret: string): string {
  const input = `${b64({ alg: "HS256", typ: "JWT", ...header })}.${b64(payload)}`;
  return `${input}.${createHmac("sha256", secret).update(input).digest("base64url")}`;
}

/** `header.payload.signature` from raw parts, for malformed tokens. */
export const rawJwt = (header: string, payload: string, signature = "") =>
  `${Buffer.from(header).toString("base64url")}.${Buffer.from(payload).toString("base64url")}.${signature}`;

export async function startTokenIssuer(options: TokenIssuerOptions = {}): Promise<TokenIssuer> {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const kid = options.kid ?? `s-${randomUUID()}`;
  let behaviour: JwksBehaviour = { kind: "ok" };
  let jwksRequests = 0;
  const jwks = JSON.stringify({
    keys: [{ ...publicKey.export({ format: "jwk" }), kid, alg: "RS256", use: "sig" }],
  });

  const server: Server = createServer((req, res) => {
    if (req.url !== "/jwt/jwks.json") {
      res.writeHead(404).end();
      return;
    }
    jwksRequests++;
    const current = behaviour;
    const answer = () => {
      if (current.kind === "down") return void res.writeHead(503).end("unavailable");
      if (current.kind === "garbage") return void res.writeHead(200, { "Content-Type": "application/json" }).end("{{{");
      res.writeHead(200, { "Content-Type": "application/json", "Cache-Control": "max-age=60, must-revalidate" });
      res.end(jwks);
    };
    if (current.kind === "slow") setTimeout(answer, current.delayMs);
    else answer();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const issuer = options.issuer ?? `${origin}/external-auth`;

  const signWith = (header: Record<string, unknown>, payload: Record<string, unknown>, key: KeyObject = privateKey) => {
    const input = `${b64(header)}.${b64(payload)}`;
    return `${input}.${sign("sha256", Buffer.from(input), key).toString("base64url")}`;
  };

  return {
    issuer,
    jwksUri: `${origin}/jwt/jwks.json`,
    kid,
    publicKeyPem: publicKey.export({ format: "pem", type: "spki" }).toString(),
    get jwksRequests() {
      return jwksRequests;
    },
    sessionToken(token) {
      const iat = Math.floor(Date.now() / 1000);
      const header = merge({ alg: "RS256", typ: "JWT", kid, version: "5" }, token.header);
      const payload = merge(
        {
          sub: token.userId,
          iat,
          exp: iat + (token.ttlSeconds ?? 3600),
          tId: "public",
          rsub: token.userId,
          sessionHandle: randomUUID(),
          refreshTokenHash1: randomUUID().replace(/-/g, ""),
          parentRefreshTokenHash1: null,
          antiCsrfToken: null,
          iss: issuer,
          ...(token.name === undefined ? {} : { name: token.name }),
        },
        token.claims,
      );
      return signWith(header, payload, token.key);
    },
    sign: signWith,
    setJwks(next) {
      behaviour = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function merge(base: Record<string, unknown>, overrides: Record<string, unknown> | undefined) {
  const out = { ...base, ...overrides };
  for (const [key, value] of Object.entries(overrides ?? {})) if (value === undefined) delete out[key];
  return out;
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
