import { ChatError } from "./errors.js";
import type { Http1Response } from "./http1-response-parser.js";
import { KeepAlivePool, type KeepAlivePoolOptions, RequestTimeoutError } from "./keep-alive-pool.js";
import { type SigningCredentials, SigV4Signer, sha256Hex } from "./sigv4-signer.js";

export interface PostToConnectionOptions {
  /** The stage's management endpoint, `https://{api-id}.execute-api.{region}.amazonaws.com/{stage}`. */
  endpoint: string;
  /** Resolved once, at the first post. */
  region: () => Promise<string>;
  /** Resolved per call; the SDK's providers cache and refresh them. */
  credentials: () => Promise<SigningCredentials>;
  /** Connections kept alive: as many as the broadcast has posts in flight. */
  maxSockets: number;
  /** Longest wait for one answer. @default 10000 */
  timeoutMs?: number;
  /** For tests: a private CA. @default Node's trusted CAs */
  tls?: KeepAlivePoolOptions["tls"];
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

/**
 * What the SDK sends with `PostToConnection`'s blob (the bytes go to the socket as they are). One object for every
 * post, so that the signer sees the same headers and reuses its work.
 */
const SIGNED_HEADERS = { "content-type": "application/octet-stream" };

/** `ManagementApiError` names for a post that got no answer: it may or may not have reached the socket. */
export const NoAnswer = { Timeout: "TimeoutError", Network: "NetworkError" } as const;

/** API Gateway's error types by status, for answers that do not name theirs. */
const ERROR_TYPES: Record<number, string> = {
  400: "BadRequestException",
  403: "ForbiddenException",
  410: "GoneException",
  413: "PayloadTooLargeException",
  429: "LimitExceededException",
};

/**
 * `PostToConnection` as one SigV4-signed HTTPS request on a `KeepAlivePool`. The broadcast makes this call once per
 * recipient; through the SDK each costs about 1 ms of CPU (a middleware stack built per command, endpoint rules, the
 * general signer) and through `node:http` still about a quarter of that, either of which makes a broadcast CPU-bound long
 * before API Gateway is busy (docs/PERFORMANCE.md). Every other management call stays with the SDK.
 */
export class PostToConnection {
  private readonly host: string;
  private readonly pathPrefix: string;
  private readonly pool: KeepAlivePool;
  private signer: Promise<SigV4Signer> | undefined;
  private lastBody: { data: string; hash: string; length: number } | undefined;
  private checkedCredentials: SigningCredentials | undefined;
  private readonly clock: () => number;

  constructor(private readonly options: PostToConnectionOptions) {
    const url = new URL(options.endpoint.replace(/\/+$/, ""));
    // URL's getters cost more than a field read, once per recipient.
    this.host = url.host;
    this.pathPrefix = `${url.pathname}/@connections/`;
    this.clock = options.clock ?? Date.now;
    this.pool = new KeepAlivePool({
      origin: url,
      maxSockets: options.maxSockets,
      timeoutMs: options.timeoutMs ?? 10_000,
      tls: options.tls,
    });
  }

  /** Resolves once API Gateway has taken the frame; rejects with a `ManagementApiError`. */
  async post(connectionId: string, data: string): Promise<void> {
    const path = `${this.pathPrefix}${encodeURIComponent(connectionId)}`;

    // A broadcast posts one body to every recipient: hash and measure it once. Held here, before any await: posts
    // of other bodies may run meanwhile and replace `lastBody`.
    if (this.lastBody?.data !== data) {
      this.lastBody = { data, hash: sha256Hex(data), length: Buffer.byteLength(data) };
    }
    const body = this.lastBody;
    const signer = await this.regionSigner();
    const credentials = await this.options.credentials();
    if (credentials !== this.checkedCredentials) {
      // Credentials end up in headers: a line break in one would split the request.
      if (!HEADER_VALUE.test(`${credentials.accessKeyId}${credentials.sessionToken ?? ""}`)) {
        throw new ManagementApiError("InvalidCredentials", connectionId, undefined, "a control character");
      }
      this.checkedCredentials = credentials;
    }
    const headers = signer.sign(
      {
        method: "POST",
        host: this.host,
        path,
        headers: SIGNED_HEADERS,
        payloadHash: body.hash,
      },
      credentials,
      new Date(this.clock()),
    );
    let head = `POST ${path} HTTP/1.1\r\n`;
    for (const name in headers) head += `${name}: ${headers[name]}\r\n`;
    head += `content-length: ${body.length}\r\n\r\n`;
    let response: Http1Response;
    try {
      response = await this.pool.request(head, data);
    } catch (err) {
      throw unanswered(connectionId, err instanceof RequestTimeoutError ? NoAnswer.Timeout : NoAnswer.Network, err);
    }
    if (response.status < 200 || response.status >= 300) throw errorFromAnswer(connectionId, response);
  }

  /** The signer for the endpoint's region, asked for once; a failed lookup is tried again at the next post. */
  private regionSigner(): Promise<SigV4Signer> {
    this.signer ??= this.options.region().then(
      (region) => new SigV4Signer(region, "execute-api"),
      (err: unknown) => {
        this.signer = undefined;
        throw err;
      },
    );
    return this.signer;
  }

  /** Closes the kept-alive connections. */
  destroy(): void {
    this.pool.destroy();
  }
}

const HEADER_VALUE = /^[\x20-\x7e]*$/;

function errorFromAnswer(connectionId: string, { status, headers, body }: Http1Response) {
  // `x-amzn-ErrorType` may carry a namespace after a colon, as in `GoneException:http://internal.amazon.com/...`.
  const named = (headers.get("x-amzn-errortype") ?? "").split(":")[0];
  const type = named || ERROR_TYPES[status] || (status >= 500 ? "InternalServerErrorException" : "UnknownError");
  let detail = body.slice(0, 200);
  try {
    detail = String((JSON.parse(body) as { message?: unknown }).message ?? detail);
  } catch {
    // not JSON: keep the text
  }
  return new ManagementApiError(type, connectionId, status, detail, headers.get("x-amzn-requestid"));
}

const unanswered = (connectionId: string, type: string, cause: unknown) =>
  new ManagementApiError(type, connectionId, undefined, cause instanceof Error ? cause.message : String(cause));
