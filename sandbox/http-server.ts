import type { IncomingMessage, RequestListener, ServerResponse } from "node:http";
import { AUTH_BASE_PATH, type SiteConfig } from "../core/site-config.js";
import type { AuthBackend } from "./auth-backend.js";
import { HttpError } from "./errors.js";
import { methodNotAllowed, sendError, sendJson } from "./http-util.js";
import { serveStatic } from "./static-files.js";

const LOOPBACK_HOSTS = ["127.0.0.1", "localhost", "[::1]"];

export interface PageServerOptions {
  /** The built web page; when absent, `placeholderHtml` is served at `/`. */
  webRoot?: string;
  /** `GET /config.json`, in the shape the stack deploys next to the page. */
  webConfig: SiteConfig;
  auth: AuthBackend;
  placeholderHtml: string;
  /** Told of failures that are not the client's fault (an auth backend whose core is unreachable, ...). */
  onError?: (path: string, error: unknown) => void;
}

/**
 * The page origin: the web page's files, `GET /config.json`, and the auth backend's routes under `/auth`.
 * It serves whatever directory it is given; building the page is someone else's job.
 */
export function createPageHandler(options: PageServerOptions): RequestListener {
  return (req, res) => {
    void serve(req, res).catch((err: unknown) => {
      // An HttpError is the client's own doing and answered as such; anything else is worth a log line.
      if (!(err instanceof HttpError)) options.onError?.(pathOf(req), err);
      sendError(res, err);
    });
  };

  /**
   * The development sign-in is on this server: point the page at the origin it was loaded from, so a page opened
   * at `localhost` does not make cross-origin calls to `127.0.0.1`. Only loopback names are trusted from `Host`.
   */
  function configFor(req: IncomingMessage): SiteConfig {
    const { auth } = options.webConfig;
    const host = req.headers.host ?? "";
    const port = new URL(auth.apiDomain).port;
    if (auth.mode !== "development" || !LOOPBACK_HOSTS.some((name) => host === `${name}:${port}`)) {
      return options.webConfig;
    }
    return { ...options.webConfig, auth: { ...auth, apiDomain: `http://${host}` } };
  }

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = pathOf(req);
    if (path === "/config.json") {
      if (req.method !== "GET" && req.method !== "HEAD") return methodNotAllowed(res, ["GET"]);
      return sendJson(res, 200, configFor(req));
    }
    if (path === AUTH_BASE_PATH || path.startsWith(`${AUTH_BASE_PATH}/`)) {
      if (await options.auth.handle(req, res, path)) return;
      throw new HttpError(404, "not_found", `No auth route ${path}.`);
    }
    if (options.webRoot !== undefined) {
      if (await serveStatic(options.webRoot, req, res, path)) return;
    } else if ((path === "/" || path === "/index.html") && (req.method === "GET" || req.method === "HEAD")) {
      res.writeHead(200, {
        "Content-Type": "text/html; charset=utf-8",
        "Content-Length": Buffer.byteLength(options.placeholderHtml),
        "Cache-Control": "no-cache",
      });
      res.end(req.method === "HEAD" ? undefined : options.placeholderHtml);
      return;
    }
    throw new HttpError(404, "not_found", `Nothing at ${path}.`);
  }
}

const pathOf = (req: IncomingMessage): string => new URL(req.url ?? "/", "http://sandbox.invalid").pathname;
