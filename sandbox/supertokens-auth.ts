import type { IncomingMessage, ServerResponse } from "node:http";
import { ConfigurationError } from "../core/errors.js";
import { AUTH_BASE_PATH } from "../core/site-config.js";
import { initSuperTokens } from "../core/supertokens-backend.js";
import type { AuthBackend } from "./auth-backend.js";
import { SandboxStartError } from "./errors.js";
import { readBody } from "./http-util.js";

/** SuperTokens' auth requests are small JSON forms; anything bigger is refused before it reaches the SDK. */
const AUTH_BODY_LIMIT = 64 * 1024;
/** Not forwarded to the SDK: they describe this hop, and `Request` computes its own length. */
const HOP_HEADERS = new Set(["connection", "keep-alive", "transfer-encoding", "upgrade", "content-length", "host"]);
const EXAMPLE = "SUPERTOKENS_CONNECTION_URI=https://try.supertokens.com";

export interface SuperTokensAuthOptions {
  /** The core (several joined with `;`). */
  connectionUri: string;
  apiKey?: string;
  /** The page server's origin: SuperTokens' `apiDomain` and `websiteDomain`, so the token's `iss` is `<origin>/auth`. */
  pageOrigin: string;
  appName: string;
}

/** Refuses a connection URI that is not a list of http(s) URLs, naming the variable. */
export function checkConnectionUri(connectionUri: string): void {
  for (const uri of connectionUri.split(";")) {
    let url: URL | undefined;
    try {
      url = new URL(uri.trim());
    } catch {
      url = undefined;
    }
    if (url?.protocol !== "http:" && url?.protocol !== "https:") {
      throw new ConfigurationError("SUPERTOKENS_CONNECTION_URI", "must be http(s) URLs joined with ;", EXAMPLE);
    }
  }
}

/**
 * The core's URL fit for a log: no user info, query or fragment, where a secret could hide. The API key is never
 * shown at all.
 */
export const printableCoreUri = (connectionUri: string): string =>
  connectionUri
    .split(";")
    .map((uri) => {
      const url = new URL(uri.trim());
      return `${url.origin}${url.pathname === "/" ? "" : url.pathname}`;
    })
    .join(";");

/**
 * The real SuperTokens backend (supertokens-node, configured by `core/supertokens-backend.ts` exactly as the auth
 * Lambda is) at `/auth/*` of the page server, against a SuperTokens core. Requests reach it through the SDK's own
 * adapter for servers it has no framework for (`supertokens-node/custom`), turned into fetch `Request`s. The
 * authorizer trusts `<page origin>/auth` and the JWKS that supertokens-node serves there (from the core).
 *
 * supertokens-node keeps its settings in the process (`supertokens.init` once; later calls are ignored), so only
 * one sandbox per process can run in this mode: a second one is refused rather than silently sharing the first's core.
 */
export async function createSuperTokensAuth(options: SuperTokensAuthOptions): Promise<AuthBackend> {
  checkConnectionUri(options.connectionUri);
  const [{ getAllCORSHeaders }, { withPreParsedRequestResponse }, { middleware }] = await Promise.all([
    import("supertokens-node"),
    import("supertokens-node/custom"),
    import("supertokens-node/framework/custom"),
  ]);
  if (isInitialised(getAllCORSHeaders)) {
    throw new SandboxStartError(
      "SuperTokens backend",
      "supertokens-node is already initialised in this process (its settings are per process): run one " +
        "SuperTokens-mode sandbox per process",
    );
  }
  await initSuperTokens({
    framework: "custom",
    connectionUri: options.connectionUri,
    apiKey: options.apiKey,
    appName: options.appName,
    apiDomain: options.pageOrigin,
    websiteDomain: options.pageOrigin,
  });
  const serve = middleware();
  const issuer = `${options.pageOrigin}${AUTH_BASE_PATH}`;

  return {
    issuer,
    jwksUri: `${issuer}/jwt/jwks.json`,
    webConfig: { mode: "supertokens", apiDomain: options.pageOrigin, apiBasePath: AUTH_BASE_PATH },
    async handle(req, res) {
      const request = await toFetchRequest(req, options.pageOrigin);
      let handled = false;
      // The SDK's helper parses the request, runs its error handler on a throw, and copies cookies onto the response.
      const response = await withPreParsedRequestResponse(request, async (baseRequest, baseResponse) => {
        const result = await serve(baseRequest, baseResponse);
        if (result.error) throw result.error;
        handled = result.handled === true;
        return new Response(baseResponse.body, { status: baseResponse.statusCode, headers: baseResponse.headers });
      });
      if (!handled) return false;
      await writeResponse(res, response);
      return true;
    },
    describe: () => [
      `SuperTokens backend at ${issuer}, core ${printableCoreUri(options.connectionUri)} ` +
        `(${options.apiKey ? "with an API key" : "no API key"}).`,
      "One SuperTokens sandbox per process: supertokens-node keeps its settings process-wide.",
    ],
  };
}

/** Whether `supertokens.init` already ran here: the SDK throws from its instance getter until it has. */
function isInitialised(getAllCORSHeaders: () => string[]): boolean {
  try {
    getAllCORSHeaders();
    return true;
  } catch {
    return false;
  }
}

/** The request as fetch sees it, at the page origin (never the client's `Host`, which it chooses). */
async function toFetchRequest(req: IncomingMessage, origin: string): Promise<Request> {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || HOP_HEADERS.has(name)) continue;
    for (const item of Array.isArray(value) ? value : [value]) headers.append(name, item);
  }
  const method = req.method ?? "GET";
  const body = method === "GET" || method === "HEAD" ? undefined : new Uint8Array(await readBody(req, AUTH_BODY_LIMIT));
  return new Request(new URL(req.url ?? "/", origin), { method, headers, body });
}

async function writeResponse(res: ServerResponse, response: Response): Promise<void> {
  const body = Buffer.from(await response.arrayBuffer());
  const headers: Record<string, string | string[]> = {};
  response.headers.forEach((value, name) => {
    if (name !== "set-cookie") headers[name] = value;
  });
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) headers["set-cookie"] = cookies;
  res.writeHead(response.status, { ...headers, "content-length": String(body.length) });
  res.end(body);
}
