import { createPublicKey, verify as cryptoVerify, type KeyObject } from "node:crypto";
import { createServer } from "node:http";
import jwt, { type JwtHeader, type SigningKeyCallback } from "jsonwebtoken";
import jwksClient from "jwks-rsa";
import { TokenVerifier } from "../core/token-verifier.js";
import { DevIssuer } from "../sandbox/dev-issuer.js";
import { closeServer, listenOn } from "../sandbox/server-lifecycle.js";
import type { ServiceMethods } from "./child-protocol.js";

/** The verification paths the authorizer section compares. */
export const AuthorizerVariant = {
  /** `TokenVerifier.verify`: what the `$connect` authorizer runs. */
  Product: "product",
  /** The seed's `jsonwebtoken.verify` with a `jwks-rsa` key callback, configured exactly as the seed has it. */
  Seed: "jsonwebtoken+jwks-rsa",
  /** `crypto.verify` of the token's RS256 signature with a ready KeyObject: nothing a verifier can skip. */
  Floor: "node:crypto",
} as const;
export type AuthorizerVariant = (typeof AuthorizerVariant)[keyof typeof AuthorizerVariant];

export interface AuthorizerRunParams {
  /** Rounds; each round runs every variant once, in a rotating order. */
  rounds: number;
  /** How long each variant runs per round. */
  sliceMs: number;
}

export type AuthorizerRunResult = Record<AuthorizerVariant, { ops: number; seconds: number }>;

const TOKENS = 64;
const ISSUER_PATH = "/auth";
const JWKS_PATH = "/auth/jwt/jwks.json";
/** Verifications between two looks at the clock. */
const CHUNK = 32;

/**
 * The `authorizer-runner` child service. SuperTokens-shaped tokens from the sandbox's development issuer, its JWKS
 * served over loopback http to both the product's verifier and jwks-rsa; both caches are warmed before measuring.
 */
export async function serve(): Promise<ServiceMethods> {
  const server = createServer();
  const origin = `http://127.0.0.1:${await listenOn(server, 0, "127.0.0.1")}`;
  const issuer = await DevIssuer.create({ issuer: `${origin}${ISSUER_PATH}` });
  const jwks = JSON.stringify(issuer.jwks());
  server.on("request", (req, res) => {
    if (req.url === JWKS_PATH) res.writeHead(200, { "Content-Type": "application/json" }).end(jwks);
    else res.writeHead(404).end();
  });
  const tokens = Array.from({ length: TOKENS }, (_, i) => issuer.sign({ userId: `user-${i}` }).token);
  const verifiers = await buildVerifiers(issuer, `${origin}${JWKS_PATH}`);
  for (const token of tokens) for (const verify of Object.values(verifiers)) await verify(token);

  return {
    run: async ({ rounds, sliceMs }: AuthorizerRunParams): Promise<AuthorizerRunResult> => {
      const totals = Object.fromEntries(
        Object.keys(verifiers).map((variant) => [variant, { ops: 0, seconds: 0 }]),
      ) as AuthorizerRunResult;
      const order = Object.keys(verifiers) as AuthorizerVariant[];
      for (let round = 0; round < rounds; round++) {
        for (let i = 0; i < order.length; i++) {
          const variant = order[(round + i) % order.length] as AuthorizerVariant;
          const { ops, seconds } = await slice(verifiers[variant], tokens, sliceMs);
          totals[variant].ops += ops;
          totals[variant].seconds += seconds;
        }
      }
      return totals;
    },
    close: () => closeServer(server),
  };
}

type Verify = (token: string) => Promise<unknown>;

async function buildVerifiers(issuer: DevIssuer, jwksUri: string): Promise<Record<AuthorizerVariant, Verify>> {
  const product = new TokenVerifier({ issuer: issuer.issuer, jwksUri, allowInsecureLoopback: true });

  // The seed (../shared/seeds/websocket-session-verification.txt), as written: jwksClient({ jwksUri }) with its
  // default cache, and jwt.verify(token, getKey, {}, callback). It checks no issuer and no algorithm list.
  const client = jwksClient({ jwksUri });
  const getKey = (header: JwtHeader, callback: SigningKeyCallback) => {
    client.getSigningKey(header.kid, (err, key) => {
      callback(err, key?.getPublicKey());
    });
  };
  const seed: Verify = (token) =>
    new Promise((resolve, reject) => {
      jwt.verify(token, getKey, {}, (err, decoded) => (err ? reject(err) : resolve(decoded)));
    });

  const key = publicKeyOf(issuer);
  const floor: Verify = async (token) => {
    const dot = token.lastIndexOf(".");
    const signature = Buffer.from(token.slice(dot + 1), "base64url");
    if (!cryptoVerify("RSA-SHA256", Buffer.from(token.slice(0, dot)), key, signature)) throw new Error("bad signature");
  };

  return {
    [AuthorizerVariant.Product]: (token) => product.verify(token),
    [AuthorizerVariant.Seed]: seed,
    [AuthorizerVariant.Floor]: floor,
  };
}

function publicKeyOf(issuer: DevIssuer): KeyObject {
  const [jwk] = issuer.jwks().keys;
  if (!jwk) throw new Error("the development issuer has no key");
  return createPublicKey({ key: { kty: jwk.kty, n: jwk.n, e: jwk.e }, format: "jwk" });
}

/** Verifies tokens one after another (an authorizer handles one `$connect` at a time) for about `sliceMs`. */
async function slice(verify: Verify, tokens: string[], sliceMs: number): Promise<{ ops: number; seconds: number }> {
  let ops = 0;
  const begin = performance.now();
  const end = begin + sliceMs;
  let now = begin;
  while (now < end) {
    for (let i = 0; i < CHUNK; i++) await verify(tokens[(ops + i) % tokens.length] as string);
    ops += CHUNK;
    now = performance.now();
  }
  return { ops, seconds: (now - begin) / 1000 };
}
