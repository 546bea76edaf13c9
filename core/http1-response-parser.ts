import { ChatError } from "./errors.js";

/** An HTTP/1.1 answer, read whole. */
export interface Http1Response {
  status: number;
  /** By name in lower case; the first value of a repeated header. */
  headers: ReadonlyMap<string, string>;
  body: string;
  /** The server will not take another request on this connection. */
  closing: boolean;
}

/** Bytes that are not an HTTP/1.1 answer (or one far larger than the management API sends). */
export class HttpProtocolError extends ChatError {
  constructor(detail: string) {
    super(`not an HTTP/1.1 answer: ${detail}`);
  }
}

const MAX_HEAD_BYTES = 16 * 1024;
const MAX_BODY_BYTES = 1024 * 1024;
const EMPTY = Buffer.alloc(0);
const CRLF = Buffer.from("\r\n");
const HEAD_END = Buffer.from("\r\n\r\n");
const CHUNK_SIZE = /^[0-9a-fA-F]{1,8}$/;

type BodyMode =
  | { kind: "length"; remaining: number }
  | { kind: "chunked"; remaining: number; step: "size" | "data" | "data-end" | "trailers" }
  | { kind: "close" };

/**
 * Reads one answer at a time from the bytes of a keep-alive connection, however they are split: a status line,
 * headers, then a body by `Content-Length`, by chunks, or up to the end of the connection. Informational (1xx)
 * answers are skipped. Bytes after a complete answer are kept (`hasLeftover`): a client that sent one request has
 * no use for them and should drop the connection.
 */
export class Http1ResponseParser {
  private buffered: Buffer = EMPTY;
  private head: Omit<Http1Response, "body"> | undefined;
  private mode: BodyMode | undefined;
  private body: Buffer[] = [];
  private bodyBytes = 0;

  /** An informational answer of this exchange was read: the server has heard the request. */
  private informed = false;

  /** Whether any byte of the current exchange has arrived (an informational answer counts). */
  get started(): boolean {
    return this.informed || this.head !== undefined || this.buffered.length > 0;
  }

  /** Bytes past the last complete answer. */
  get hasLeftover(): boolean {
    return this.head === undefined && this.buffered.length > 0;
  }

  /** Takes the next bytes; returns the answer once it is complete. Throws `HttpProtocolError`. */
  push(chunk: Buffer): Http1Response | undefined {
    this.buffered = this.buffered.length ? Buffer.concat([this.buffered, chunk]) : chunk;
    for (;;) {
      if (!this.head) {
        const end = this.buffered.indexOf(HEAD_END);
        if (end < 0) {
          // The end, when it comes, may begin in the last three bytes.
          if (this.buffered.length - (HEAD_END.length - 1) > MAX_HEAD_BYTES) {
            throw new HttpProtocolError("headers too large");
          }
          return undefined;
        }
        if (end > MAX_HEAD_BYTES) throw new HttpProtocolError("headers too large");
        const text = this.buffered.toString("latin1", 0, end);
        this.buffered =
          end + HEAD_END.length === this.buffered.length ? EMPTY : this.buffered.subarray(end + HEAD_END.length);
        const parsed = parseHead(text);
        if (parsed.status < 200) {
          this.informed = true; // 100 Continue and the like: the real answer follows
          continue;
        }
        this.head = parsed;
        this.mode = bodyMode(parsed);
      }
      const response = this.readBody();
      if (response) return response;
      if (this.head) return undefined;
    }
  }

  /** The connection ended: the answer that runs to the end of the connection, if that is what was being read. */
  end(): Http1Response {
    if (this.head && this.mode?.kind === "close") return this.finish();
    throw new HttpProtocolError(this.started ? "the connection ended inside an answer" : "no answer");
  }

  private readBody(): Http1Response | undefined {
    const mode = this.mode as BodyMode;
    if (mode.kind === "length") {
      if (mode.remaining > 0) this.consume(mode);
      return mode.remaining === 0 ? this.finish() : undefined;
    }
    if (mode.kind === "close") {
      this.addBody(this.buffered);
      this.buffered = EMPTY;
      return undefined;
    }
    return this.readChunks(mode);
  }

  private readChunks(mode: Extract<BodyMode, { kind: "chunked" }>): Http1Response | undefined {
    for (;;) {
      if (mode.step === "data") {
        this.consume(mode);
        if (mode.remaining > 0) return undefined;
        mode.step = "data-end";
        continue;
      }
      const eol = this.buffered.indexOf(CRLF);
      if (eol < 0) {
        if (this.buffered.length > MAX_HEAD_BYTES) throw new HttpProtocolError("chunk line too long");
        return undefined;
      }
      const line = this.buffered.toString("latin1", 0, eol);
      this.buffered = this.buffered.subarray(eol + CRLF.length);
      if (mode.step === "data-end") {
        if (line !== "") throw new HttpProtocolError("chunk data longer than its size");
        mode.step = "size";
      } else if (mode.step === "size") {
        const size = (line.split(";", 1)[0] ?? "").trim();
        if (!CHUNK_SIZE.test(size)) throw new HttpProtocolError(`bad chunk size "${size.slice(0, 20)}"`);
        mode.remaining = Number.parseInt(size, 16);
        mode.step = mode.remaining === 0 ? "trailers" : "data";
      } else if (line === "") {
        return this.finish(); // the empty line after the trailers
      }
    }
  }

  /** Moves up to `remaining` buffered bytes into the body. */
  private consume(mode: { remaining: number }): void {
    const take = Math.min(mode.remaining, this.buffered.length);
    this.addBody(this.buffered.subarray(0, take));
    this.buffered = this.buffered.subarray(take);
    mode.remaining -= take;
  }

  private addBody(bytes: Buffer): void {
    if (bytes.length === 0) return;
    this.bodyBytes += bytes.length;
    if (this.bodyBytes > MAX_BODY_BYTES) throw new HttpProtocolError("body too large");
    this.body.push(bytes);
  }

  private finish(): Http1Response {
    const { status, headers, closing } = this.head as Omit<Http1Response, "body">;
    const body = this.body.length === 0 ? "" : Buffer.concat(this.body).toString("utf8");
    this.head = undefined;
    this.mode = undefined;
    this.informed = false;
    if (this.body.length) this.body = [];
    this.bodyBytes = 0;
    return { status, headers, closing, body };
  }
}

function parseHead(text: string): Omit<Http1Response, "body"> {
  let eol = text.indexOf("\r\n");
  if (eol < 0) eol = text.length;
  // `HTTP/1.1 200 OK`: the version, a space, three digits, then a space or the end of the line.
  const minor = text.charCodeAt(7);
  const status = digit(text, 9) * 100 + digit(text, 10) * 10 + digit(text, 11);
  if (
    !text.startsWith("HTTP/1.") ||
    (minor !== 48 && minor !== 49) ||
    text.charCodeAt(8) !== 32 ||
    !(status >= 100) ||
    eol < 12 ||
    (eol > 12 && text.charCodeAt(12) !== 32)
  ) {
    throw new HttpProtocolError(`bad status line "${text.slice(0, Math.min(eol, 40))}"`);
  }
  const headers = new Map<string, string>();
  while (eol < text.length) {
    const start = eol + 2;
    eol = text.indexOf("\r\n", start);
    if (eol < 0) eol = text.length;
    const colon = text.indexOf(":", start);
    if (colon <= start || colon >= eol) {
      throw new HttpProtocolError(`bad header line "${text.slice(start, Math.min(eol, start + 40))}"`);
    }
    let nameEnd = colon;
    while (nameEnd > start && isBlank(text.charCodeAt(nameEnd - 1))) nameEnd--;
    const name = text.slice(start, nameEnd).toLowerCase();
    let from = colon + 1;
    let to = eol;
    while (from < to && isBlank(text.charCodeAt(from))) from++;
    while (to > from && isBlank(text.charCodeAt(to - 1))) to--;
    const value = text.slice(from, to);
    const seen = headers.get(name);
    if (seen === undefined) headers.set(name, value);
    else if (name === "transfer-encoding")
      headers.set(name, `${seen}, ${value}`); // codings add up
    else if (name === "content-length" && Number(seen) !== Number(value)) {
      throw new HttpProtocolError("two different Content-Length headers");
    }
  }
  const connection = headers.get("connection")?.toLowerCase();
  const options = connection === undefined || connection === "keep-alive" ? [connection] : connection.split(/ *, */);
  return {
    status,
    headers,
    closing: options.includes("close") || (minor === 48 && !options.includes("keep-alive")),
  };
}

/** The decimal digit at `index`, or NaN. */
const digit = (text: string, index: number) => {
  const value = text.charCodeAt(index) - 48;
  return value >= 0 && value <= 9 ? value : Number.NaN;
};
const isBlank = (code: number) => code === 32 || code === 9;

function bodyMode(head: Omit<Http1Response, "body">): BodyMode {
  if (head.status === 204 || head.status === 304) return { kind: "length", remaining: 0 };
  const encoding = head.headers.get("transfer-encoding");
  if (encoding !== undefined) {
    // With a Content-Length as well, the answer is suspect (RFC 9112, 6.3): read it by its coding, then drop the
    // connection.
    if (head.headers.has("content-length")) head.closing = true;
    if (encoding.toLowerCase().split(",").pop()?.trim() === "chunked") {
      return { kind: "chunked", remaining: 0, step: "size" };
    }
    head.closing = true;
    return { kind: "close" };
  }
  const length = head.headers.get("content-length");
  if (length === undefined) {
    head.closing = true;
    return { kind: "close" };
  }
  if (!/^\d{1,10}$/.test(length)) throw new HttpProtocolError(`bad Content-Length "${length.slice(0, 20)}"`);
  const remaining = Number(length);
  if (remaining > MAX_BODY_BYTES) throw new HttpProtocolError("body too large");
  return { kind: "length", remaining };
}
