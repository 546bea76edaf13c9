import { type Agent as HttpAgent, request as httpRequest, type IncomingMessage } from "node:http";
import { type Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { ChatError } from "./errors.js";
import { type SigningCredentials, SigV4Signer, sha256Hex } from "./sigv4-signer.js";

export interface PostToConnectionOptions {
  /** The stage's management endpoint, `https://{api-id}.execute-api.{region}.amazonaws.com/{stage}`. */
  endpoint: string;
  /** Resolved once, at the first post. */
  region: () => Promise<string>;
  /** Resolved per call; the SDK's providers cache and refresh them. */
  credentials: () => Promise<SigningCredentials>;
  /** Keep-alive pool; `https:` endpoints need an `https.Agent`. */
  agent: HttpAgent | HttpsAgent;
  /** Longest wait for one answer. @default 10000 */
  timeoutMs?: number;
  /** @default Date.now */
  clock?: () => number;
}

/**
 * An error answer from the management API, or no answer. `name` is API Gateway's error type (`GoneException`,
 * `LimitExceededException`, …), as on the SDK's errors, so `isGone`/`isThrottled` read both alike.
 */
export class ManagementApiError extends ChatError {
  constructor(
    readonly errorType: string,
    readonly connectionId: string,
    /** The HTTP status; absent when no answer came. */
    readonly statusCode: number | undefined,
    detail: string,
    readonly requestId?: string,
  ) {
    super(`PostToConnection ${connectionId}: ${errorType}${statusCode ? ` (${statusCode})` : ""}: ${detail}`);
    this.name = errorType;
  }
}

/** What the SDK sends with `PostToConnection`'s blob: the bytes go to the socket as they are. */
const CONTENT_TYPE = "application/octet-stream";

/** API Gateway's error types by status, for answers that do not name theirs. */
const ERROR_TYPES: Record<number, string> = {
  400: "BadRequestException",
  403: "ForbiddenException",
  410: "GoneException",
  413: "PayloadTooLargeException",
  429: "LimitExceededException",
};

/**
 * `PostToConnection` as one SigV4-signed HTTPS request on a keep-alive pool. The broadcast makes this call once per
 * recipient, and through the SDK each costs about 1 ms of CPU (a middleware stack built per command, endpoint rules,
 * the general signer), which makes a broadcast CPU-bound long before API Gateway is busy. This costs about a third
 * (docs/PERFORMANCE.md). Every other management call stays with the SDK.
 */
export class PostToConnection {
  private readonly url: URL;
  private signer: Promise<SigV4Signer> | undefined;
  private lastBody: { data: string; hash: string } | undefined;
  private readonly send: typeof httpRequest;
  private readonly timeoutMs: number;
  private readonly clock: () => number;

  constructor(private readonly options: PostToConnectionOptions) {
    this.url = new URL(options.endpoint.replace(/\/+$/, ""));
    this.send = this.url.protocol === "https:" ? httpsRequest : httpRequest;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.clock = options.clock ?? Date.now;
  }

  /** Resolves once API Gateway has taken the frame; rejects with a `ManagementApiError`. */
  async post(connectionId: string, data: string): Promise<void> {
    const path = `${this.url.pathname}/@connections/${encodeURIComponent(connectionId)}`;
    this.signer ??= this.options.region().then((region) => new SigV4Signer(region, "execute-api"));
    // A broadcast posts one body to every recipient: hash it once.
    if (this.lastBody?.data !== data) this.lastBody = { data, hash: sha256Hex(data) };
    const headers = (await this.signer).sign(
      {
        method: "POST",
        host: this.url.host,
        path,
        headers: { "content-type": CONTENT_TYPE },
        body: data,
        payloadHash: this.lastBody.hash,
      },
      await this.options.credentials(),
      new Date(this.clock()),
    );
    try {
      return await this.attempt(connectionId, path, headers, data);
    } catch (err) {
      // A keep-alive socket the server closed as we reused it: nothing was delivered, so once more on a fresh one.
      if ((err as { reusedSocket?: boolean }).reusedSocket) return this.attempt(connectionId, path, headers, data);
      throw err;
    }
  }

  private attempt(connectionId: string, path: string, headers: Record<string, string>, data: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const req = this.send(
        {
          protocol: this.url.protocol,
          host: this.url.hostname,
          port: this.url.port,
          method: "POST",
          path,
          headers: { ...headers, "content-length": Buffer.byteLength(data) },
          agent: this.options.agent,
          timeout: this.timeoutMs,
        },
        (res) => {
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) {
            res.resume();
            res.once("end", resolve);
            return;
          }
          void readAll(res).then(
            (body) => reject(errorFromAnswer(connectionId, res, status, body)),
            (err: unknown) => reject(unanswered(connectionId, "NetworkError", err)),
          );
        },
      );
      req.once("timeout", () =>
        req.destroy(unanswered(connectionId, "TimeoutError", `no answer in ${this.timeoutMs} ms`)),
      );
      req.once("error", (err: NodeJS.ErrnoException) => {
        const error = err instanceof ManagementApiError ? err : unanswered(connectionId, "NetworkError", err);
        // Only a reset on a reused socket before any answer is safe to repeat.
        if (req.reusedSocket && err.code === "ECONNRESET") Object.assign(error, { reusedSocket: true });
        reject(error);
      });
      req.end(data);
    });
  }
}

function errorFromAnswer(connectionId: string, res: IncomingMessage, status: number, body: string) {
  // `x-amzn-ErrorType` may carry a namespace after a colon, as in `GoneException:http://internal.amazon.com/...`.
  const named = String(res.headers["x-amzn-errortype"] ?? "").split(":")[0];
  const type = named || ERROR_TYPES[status] || (status >= 500 ? "InternalServerErrorException" : "UnknownError");
  let detail = body.slice(0, 200);
  try {
    detail = String((JSON.parse(body) as { message?: unknown }).message ?? detail);
  } catch {
    // not JSON: keep the text
  }
  return new ManagementApiError(type, connectionId, status, detail, headerValue(res, "x-amzn-requestid"));
}

const unanswered = (connectionId: string, type: string, cause: unknown) =>
  new ManagementApiError(type, connectionId, undefined, cause instanceof Error ? cause.message : String(cause));

const headerValue = (res: IncomingMessage, name: string) => {
  const value = res.headers[name];
  return Array.isArray(value) ? value[0] : value;
};

async function readAll(res: IncomingMessage): Promise<string> {
  let body = "";
  res.setEncoding("utf8");
  for await (const chunk of res) body += chunk;
  return body;
}
