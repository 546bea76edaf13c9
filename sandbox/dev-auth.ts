import { createHash, type KeyObject } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Clock } from "../core/clock.js";
import type { AuthBackend } from "./auth-backend.js";
import { DevIssuer } from "./dev-issuer.js";
import { HttpError } from "./errors.js";
import { methodNotAllowed, readJson, sendError, sendJson } from "./http-util.js";

/** Longest development name, in characters after trimming. */
export const DEV_NAME_MAX_LENGTH = 32;
const SIGN_IN_BODY_LIMIT = 4096;

/** What `POST /auth/dev/signin` answers. */
export interface DevSignInResponse {
  accessToken: string;
  /** Epoch seconds. */
  expiresAt: number;
  user: { userId: string; name: string };
}

/** The development sign-in's URL on a sandbox's page (the auth backend sits at `/auth`, as the stack has it). */
export const devSignInUrl = (pageUrl: string): string => new URL("auth/dev/signin", pageUrl).href;

/** Signs in as `name` through the development sign-in, as the page does; any answer but 200 throws. */
export async function devSignIn(url: string, name: string): Promise<DevSignInResponse> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name }),
    signal: AbortSignal.timeout(10_000),
  });
  if (response.status !== 200) throw new Error(`sign-in answered ${response.status}: ${await response.text()}`);
  return (await response.json()) as DevSignInResponse;
}

/**
 * The development sign-in: a name and no password gets a token from the development issuer, whose JWKS is served
 * where SuperTokens serves its own (`<apiBasePath>/jwt/jwks.json`).
 */
export async function createDevAuth(options: {
  pageOrigin: string;
  basePath: string;
  tokenTtlSeconds?: number;
  privateKey?: KeyObject;
  clock: Clock;
}): Promise<AuthBackend> {
  const issuerUrl = `${options.pageOrigin}${options.basePath}`;
  const jwksPath = `${options.basePath}/jwt/jwks.json`;
  const signInPath = `${options.basePath}/dev/signin`;
  const issuer = await DevIssuer.create({
    issuer: issuerUrl,
    tokenTtlSeconds: options.tokenTtlSeconds,
    privateKey: options.privateKey,
    clock: options.clock,
  });

  const signIn = async (req: IncomingMessage, res: ServerResponse) => {
    const body = await readJson(req, SIGN_IN_BODY_LIMIT);
    const name = validName(typeof body === "object" && body !== null ? (body as { name?: unknown }).name : undefined);
    const userId = devUserId(name);
    const { token, expiresAt } = issuer.sign({ userId, name });
    const response: DevSignInResponse = { accessToken: token, expiresAt, user: { userId, name } };
    sendJson(res, 200, response);
  };

  return {
    issuer: issuerUrl,
    jwksUri: `${options.pageOrigin}${jwksPath}`,
    webConfig: { mode: "development", apiDomain: options.pageOrigin, apiBasePath: options.basePath },
    devIssuer: issuer,
    async handle(req, res, path) {
      if (path === jwksPath) {
        if (req.method !== "GET" && req.method !== "HEAD") methodNotAllowed(res, ["GET"]);
        // SuperTokens' caching header, so the verifier's cache behaves as it will against the real thing.
        else sendJson(res, 200, issuer.jwks(), { "Cache-Control": "max-age=60, must-revalidate" });
        return true;
      }
      if (path === signInPath) {
        if (req.method !== "POST") methodNotAllowed(res, ["POST"]);
        else await signIn(req, res).catch((err: unknown) => sendError(res, err));
        return true;
      }
      return false;
    },
    describe: () => [
      `DEVELOPMENT issuer ${issuerUrl}: anyone who can reach this port can sign in as any name.`,
      "Its key is made at start and thrown away at exit; never trust it outside this sandbox.",
    ],
  };
}

/** 1–32 characters after trimming, no control characters. */
export function validName(value: unknown): string {
  const name = typeof value === "string" ? value.trim() : "";
  const length = [...name].length;
  if (length === 0 || length > DEV_NAME_MAX_LENGTH) {
    throw new HttpError(400, "invalid_name", `"name" must be 1 to ${DEV_NAME_MAX_LENGTH} characters long.`);
  }
  if (/\p{Cc}/u.test(name)) throw new HttpError(400, "invalid_name", `"name" must not contain control characters.`);
  return name;
}

/** The same name (ignoring case and Unicode form) always gets the same user id. */
export const devUserId = (name: string): string =>
  `dev-${createHash("sha256").update(name.normalize("NFKC").toLowerCase()).digest("hex").slice(0, 16)}`;
