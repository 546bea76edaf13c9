import {
  createHash,
  createPublicKey,
  generateKeyPair,
  type KeyObject,
  randomBytes,
  randomUUID,
  sign,
} from "node:crypto";
import { promisify } from "node:util";
import { type Clock, systemClock, toEpochSeconds } from "../core/clock.js";

/** A JSON Web Key Set as SuperTokens serves it. */
export interface Jwks {
  keys: { kty: "RSA"; kid: string; n: string; e: string; alg: "RS256"; use: "sig" }[];
}

export interface AccessTokenOptions {
  /** `sub`. */
  userId: string;
  /** Display name, carried in a `name` claim as the verifier reads it. */
  name?: string;
  /** @default the issuer's token lifetime */
  ttlSeconds?: number;
  /** Claims added or replaced; `undefined` removes one. Tests make expired, foreign or odd tokens this way. */
  claims?: Record<string, unknown>;
  /** Header fields added or replaced; `undefined` removes one. */
  header?: Record<string, unknown>;
}

export interface SignedToken {
  token: string;
  /** `exp`, epoch seconds. */
  expiresAt: number;
}

export interface DevIssuerOptions {
  /** `iss`: SuperTokens writes `apiDomain + apiBasePath`, e.g. `http://127.0.0.1:3000/auth`. */
  issuer: string;
  /** @default 3600 */
  tokenTtlSeconds?: number;
  /** The RSA private key to sign with. @default a new one */
  privateKey?: KeyObject;
  clock?: Clock;
}

const generateRsaKeyPair = promisify(generateKeyPair);

/** A new 2048-bit RSA private key. Takes a few hundred milliseconds, so start it early. */
export const generateSigningKey = async (): Promise<KeyObject> =>
  (await generateRsaKeyPair("rsa", { modulusLength: 2048 })).privateKey;

/**
 * The sandbox's DEVELOPMENT-ONLY token issuer: a throwaway RSA key made at start, a SuperTokens-shaped JWKS and
 * SuperTokens-shaped access tokens (header `{alg, typ, kid: "d-<ms>", version: "5"}`, payload `sub`, `iat`, `exp`,
 * `tId`, `rsub`, `sessionHandle`, `refreshTokenHash1`, `parentRefreshTokenHash1`, `antiCsrfToken`, `iss`). Whoever
 * can reach the sandbox can get a token for any name: it must never be trusted outside it.
 */
export class DevIssuer {
  readonly issuer: string;
  /** SuperTokens' dynamic-key id: `d-` and the key's creation time in ms. */
  readonly kid: string;
  private readonly tokenTtlSeconds: number;
  private readonly clock: Clock;

  private constructor(
    options: DevIssuerOptions,
    private readonly privateKey: KeyObject,
    private readonly publicKey: KeyObject,
  ) {
    this.issuer = options.issuer;
    this.clock = options.clock ?? systemClock;
    this.tokenTtlSeconds = options.tokenTtlSeconds ?? 3600;
    this.kid = `d-${this.clock()}`;
  }

  static async create(options: DevIssuerOptions): Promise<DevIssuer> {
    const privateKey = options.privateKey ?? (await generateSigningKey());
    return new DevIssuer(options, privateKey, createPublicKey(privateKey));
  }

  jwks(): Jwks {
    const { n, e } = this.publicKey.export({ format: "jwk" });
    return { keys: [{ kty: "RSA", kid: this.kid, n: n as string, e: e as string, alg: "RS256", use: "sig" }] };
  }

  sign(options: AccessTokenOptions): SignedToken {
    const iat = toEpochSeconds(this.clock());
    const exp = iat + (options.ttlSeconds ?? this.tokenTtlSeconds);
    const header = withOverrides({ alg: "RS256", typ: "JWT", kid: this.kid, version: "5" }, options.header);
    const payload = withOverrides(
      {
        sub: options.userId,
        iat,
        exp,
        tId: "public",
        rsub: options.userId,
        sessionHandle: randomUUID(),
        refreshTokenHash1: createHash("sha256").update(randomBytes(32)).digest("hex"),
        parentRefreshTokenHash1: null,
        antiCsrfToken: null,
        iss: this.issuer,
        ...(options.name === undefined ? {} : { name: options.name }),
      },
      options.claims,
    );
    const input = `${base64url(header)}.${base64url(payload)}`;
    const signature = sign("sha256", Buffer.from(input), this.privateKey).toString("base64url");
    return { token: `${input}.${signature}`, expiresAt: typeof payload.exp === "number" ? payload.exp : exp };
  }
}

function withOverrides(base: Record<string, unknown>, overrides: Record<string, unknown> | undefined) {
  const out = { ...base, ...overrides };
  for (const [key, value] of Object.entries(overrides ?? {})) if (value === undefined) delete out[key];
  return out;
}

const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
