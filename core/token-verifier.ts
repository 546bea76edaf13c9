import { JwtVerifier } from "aws-jwt-verify";
import {
  FetchError,
  JwksNotAvailableInCacheError,
  JwksValidationError,
  JwkValidationError,
  JwtExpiredError,
  JwtInvalidIssuerError,
  JwtInvalidSignatureAlgorithmError,
  JwtInvalidSignatureError,
  JwtNotBeforeError,
  JwtWithoutValidKidError,
  KidNotFoundInJwksError,
  WaitPeriodNotYetEndedJwkError,
} from "aws-jwt-verify/error";
import type { Fetcher } from "aws-jwt-verify/https";
import { SimpleJwksCache } from "aws-jwt-verify/jwk";
import type { JwtPayload } from "aws-jwt-verify/jwt-model";
import { type Env, EnvVar, requireEnv } from "./env.js";
import { RejectionReason, TokenRejectedError } from "./errors.js";
import { createJwksFetcher } from "./jwks-fetcher.js";
import { DEFAULT_TENANT } from "./protocol.js";

/** What a verified SuperTokens session access token tells us about the caller. */
export interface SessionClaims {
  userId: string;
  sessionHandle: string;
  tenantId: string;
  /** The token's `exp`, epoch seconds. */
  expiresAt: number;
  /** A display name from the token's `name` or `email` claim, when it has one (SuperTokens adds none by default). */
  name?: string;
}

export interface TokenVerifierOptions {
  /** SuperTokens issuer, `apiDomain + apiBasePath`, e.g. `https://api.example.com/auth`. Compared exactly. */
  issuer: string;
  /** SuperTokens JWKS, e.g. `https://api.example.com/auth/jwt/jwks.json`. */
  jwksUri: string;
  /** Accept an `http://` JWKS on a loopback address (the local sandbox). @default false */
  allowInsecureLoopback?: boolean;
  /** How the JWKS is fetched. @default aws-jwt-verify's https fetcher with short timeouts */
  fetcher?: Fetcher;
  /** @default Date.now */
  clock?: () => number;
}

/**
 * After a failed JWKS fetch, tokens that need the JWKS are refused without fetching for this long: aws-jwt-verify
 * holds back refetches only after a fetch that worked, so otherwise an outage costs one fetch per connect.
 */
export const JWKS_FAILURE_COOLDOWN_MS = 5000;

const MAX_TOKEN_LENGTH = 4096;
const MAX_NAME_LENGTH = 64;

/**
 * Verifies SuperTokens session access tokens: RS256 with a `kid` from the SuperTokens JWKS, the configured issuer,
 * not expired, `sub` and `sessionHandle` present, and not an OAuth2 token (`stt` absent or 0).
 * Build one per process: the JWKS cache lives in the instance.
 */
export class TokenVerifier {
  private readonly verifier;

  constructor(options: TokenVerifierOptions) {
    const fetcher = guardedFetcher(
      options.fetcher ?? createJwksFetcher({ allowInsecureLoopback: options.allowInsecureLoopback }),
      options.clock ?? (() => Date.now()),
    );
    this.verifier = JwtVerifier.create(
      {
        issuer: options.issuer,
        jwksUri: options.jwksUri,
        audience: null, // SuperTokens access tokens carry no `aud`
        customJwtCheck: ({ header }) => {
          if (header.alg !== "RS256") {
            throw new TokenRejectedError(RejectionReason.BadAlgorithm, `alg ${String(header.alg)} is not RS256`);
          }
        },
      },
      { jwksCache: new SimpleJwksCache({ fetcher }) },
    );
  }

  /** Resolves to the session's claims, or rejects with a `TokenRejectedError` saying why. */
  async verify(token: string | undefined): Promise<SessionClaims> {
    if (!token) throw new TokenRejectedError(RejectionReason.Missing, "no token");
    if (token.length > MAX_TOKEN_LENGTH) {
      throw new TokenRejectedError(RejectionReason.Malformed, `token is ${token.length} characters long`);
    }
    let payload: JwtPayload;
    try {
      payload = this.verifyCached(token) ?? (await this.verifier.verify(token));
    } catch (err) {
      throw toRejection(err);
    }
    return sessionClaims(payload);
  }

  /**
   * The same checks as `verify`, synchronously, when the token's kid is in the cached JWKS: the async path costs a
   * chain of promises per token. `undefined` when the JWK is not cached, so that the async path fetches the JWKS
   * (cold start, key rotation) or refuses the kid under its own back-off and our cool-down.
   */
  private verifyCached(token: string): JwtPayload | undefined {
    try {
      return this.verifier.verifySync(token);
    } catch (err) {
      if (err instanceof JwksNotAvailableInCacheError || err instanceof KidNotFoundInJwksError) return undefined;
      throw err;
    }
  }
}

/** The verifier configured from `ISSUER` and `JWKS_URI`, as the authorizer and the message handler use it. */
export const verifierFromEnv = (env: Env, options: { allowInsecureLoopback?: boolean } = {}) =>
  new TokenVerifier({
    issuer: requireEnv(env, EnvVar.Issuer),
    jwksUri: requireEnv(env, EnvVar.JwksUri),
    allowInsecureLoopback: options.allowInsecureLoopback,
  });

/**
 * Any failure to get a usable JWKS (network, status, timeout, a body that is not JSON) becomes a `FetchError`, so it
 * is reported as the JWKS being unavailable rather than as a bad token, whatever fetcher is plugged in; and for
 * `JWKS_FAILURE_COOLDOWN_MS` after a failure, fetches fail at once instead of hammering a JWKS that is down.
 */
function guardedFetcher(fetcher: Fetcher, clock: () => number): Fetcher {
  let failedAt = Number.NEGATIVE_INFINITY;
  return {
    fetch: async (uri, requestOptions, data) => {
      if (clock() - failedAt < JWKS_FAILURE_COOLDOWN_MS) {
        throw new FetchError(uri, "the last fetch failed moments ago; not trying again yet");
      }
      try {
        const body = await fetcher.fetch(uri, requestOptions, data);
        JSON.parse(new TextDecoder().decode(body));
        return body;
      } catch (err) {
        failedAt = clock();
        throw err instanceof FetchError ? err : new FetchError(uri, err instanceof Error ? err.message : String(err));
      }
    },
  };
}

function sessionClaims(payload: JwtPayload): SessionClaims {
  const { sub, sessionHandle, tId, exp, stt } = payload;
  if (stt !== undefined && stt !== 0) {
    throw new TokenRejectedError(RejectionReason.NotASessionToken, `stt is ${String(stt)}`);
  }
  if (typeof sub !== "string" || sub === "") throw missingClaim("sub");
  if (typeof sessionHandle !== "string" || sessionHandle === "") throw missingClaim("sessionHandle");
  if (typeof exp !== "number") throw missingClaim("exp");
  if (tId !== undefined && typeof tId !== "string") throw missingClaim("tId");
  const name = [payload.name, payload.email].find((claim) => typeof claim === "string" && claim.trim() !== "");
  return {
    userId: sub,
    sessionHandle,
    tenantId: tId ?? DEFAULT_TENANT,
    expiresAt: exp,
    ...(name ? { name: String(name).trim().slice(0, MAX_NAME_LENGTH) } : {}),
  };
}

const missingClaim = (claim: string) =>
  new TokenRejectedError(RejectionReason.MissingClaim, `${claim} is missing or not a non-empty string`);

// aws-jwt-verify's error classes, mapped to the categories we log and count.
const REASONS: [abstract new (...args: never[]) => Error, RejectionReason][] = [
  [JwtExpiredError, RejectionReason.Expired],
  [JwtNotBeforeError, RejectionReason.NotYetValid],
  [JwtInvalidIssuerError, RejectionReason.WrongIssuer],
  [JwtInvalidSignatureAlgorithmError, RejectionReason.BadAlgorithm],
  [JwtInvalidSignatureError, RejectionReason.BadSignature],
  [KidNotFoundInJwksError, RejectionReason.UnknownKey],
  [WaitPeriodNotYetEndedJwkError, RejectionReason.UnknownKey],
  [JwtWithoutValidKidError, RejectionReason.Malformed],
  [JwkValidationError, RejectionReason.BadAlgorithm],
  [FetchError, RejectionReason.JwksUnavailable],
  [JwksValidationError, RejectionReason.JwksUnavailable],
];

function toRejection(err: unknown): TokenRejectedError {
  if (err instanceof TokenRejectedError) return err;
  const message = err instanceof Error ? err.message : String(err);
  for (const [type, reason] of REASONS) {
    if (err instanceof type) return new TokenRejectedError(reason, message);
  }
  // Parse errors, unsupported algorithms (`none`, HS256) and anything else: the token is not one of ours.
  return new TokenRejectedError(RejectionReason.Malformed, message);
}
