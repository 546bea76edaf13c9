import type { OutgoingHttpHeaders } from "node:http";
import WebSocket from "ws";

/** The server refused the WebSocket handshake with an HTTP status. */
export class HandshakeRefused extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(`handshake refused with HTTP ${status}: ${body}`);
    this.name = "HandshakeRefused";
  }
}

/** A frame did not arrive in time. */
export class FrameTimeout extends Error {
  constructor(
    readonly waitedMs: number,
    readonly received: readonly unknown[],
  ) {
    super(`no matching frame within ${waitedMs} ms; received ${JSON.stringify(received).slice(0, 500)}`);
    this.name = "FrameTimeout";
  }
}

export interface OpenOptions {
  /** Put in the `token` query parameter. */
  token?: string;
  headers?: OutgoingHttpHeaders;
  protocols?: string[];
  /** Larger than the server's limit, so oversize tests reach the server. @default 1 MB */
  maxPayload?: number;
}

export interface Closed {
  code: number;
  reason: string;
}

type Frame = unknown;
type Waiter = { match: (frame: Frame) => boolean; resolve: (frame: Frame) => void };

/** `url` with the token in the query string, as the page sends it. */
export const withToken = (url: string, token: string) =>
  `${url}${url.includes("?") ? "&" : "?"}token=${encodeURIComponent(token)}`;

/**
 * A real `ws` client that keeps every frame it receives (parsed as JSON when it is JSON), so tests can wait for
 * the frame they expect instead of sleeping, and then assert on everything that arrived.
 */
export class TestClient {
  /** Every frame received, in order. */
  readonly frames: Frame[] = [];
  /** Resolves when the socket closes, with the code and reason the client saw. */
  readonly closed: Promise<Closed>;
  /** This end's TCP port, once the handshake succeeded: the sandbox reports it as the connection's `sourcePort`. */
  localPort: number | undefined;
  private waiters: Waiter[] = [];

  constructor(readonly socket: WebSocket) {
    socket.once("upgrade", (response) => {
      this.localPort = response.socket.localPort;
    });
    socket.on("message", (data, isBinary) => {
      const text = isBinary ? undefined : data.toString();
      const frame = text === undefined ? data : parseOrText(text);
      this.frames.push(frame);
      for (const waiter of this.waiters.filter((candidate) => candidate.match(frame))) {
        this.waiters = this.waiters.filter((candidate) => candidate !== waiter);
        waiter.resolve(frame);
      }
    });
    this.closed = new Promise((resolve) => {
      socket.on("close", (code, reason) => resolve({ code, reason: reason.toString() }));
    });
  }

  get isOpen(): boolean {
    return this.socket.readyState === WebSocket.OPEN;
  }

  /** Sends an object as JSON, or a string as it is. */
  send(value: unknown): void {
    this.socket.send(typeof value === "string" ? value : JSON.stringify(value));
  }

  /** The first frame, received or still to come, that matches. */
  waitFor<T = Frame>(match: (frame: Frame) => boolean, timeoutMs = 5000): Promise<T> {
    const found = this.frames.find(match);
    if (found !== undefined) return Promise.resolve(found as T);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((candidate) => candidate !== waiter);
        reject(new FrameTimeout(timeoutMs, this.frames));
      }, timeoutMs);
      const waiter: Waiter = {
        match,
        resolve: (frame) => {
          clearTimeout(timer);
          resolve(frame as T);
        },
      };
      this.waiters.push(waiter);
    });
  }

  /** Frames that match, in order. */
  framesWhere<T = Frame>(match: (frame: Frame) => boolean): T[] {
    return this.frames.filter(match) as T[];
  }

  /** Closes with a close frame and waits until the socket is closed. */
  close(code = 1000, reason = ""): Promise<Closed> {
    if (this.socket.readyState === WebSocket.OPEN) this.socket.close(code, reason);
    return this.closed;
  }

  /** Vanishes: the TCP connection is cut without a close frame. */
  terminate(): Promise<Closed> {
    this.socket.terminate();
    return this.closed;
  }
}

/** Opens a socket; rejects with `HandshakeRefused` when the server answers the upgrade with an HTTP status. */
export function openClient(url: string, options: OpenOptions = {}): Promise<TestClient> {
  const target = options.token === undefined ? url : withToken(url, options.token);
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(target, options.protocols, {
      headers: options.headers,
      maxPayload: options.maxPayload ?? 1024 * 1024,
    });
    const client = new TestClient(socket);
    socket.once("open", () => resolve(client));
    socket.once("unexpected-response", (_req, res) => {
      let body = "";
      res.on("data", (chunk: Buffer) => {
        body += chunk.toString();
      });
      res.on("end", () => reject(new HandshakeRefused(res.statusCode ?? 0, body)));
      res.on("error", () => reject(new HandshakeRefused(res.statusCode ?? 0, body)));
    });
    // Kept for the socket's life: a late error must not go unhandled once the promise has settled.
    socket.on("error", (err) => reject(err));
  });
}

/** The HTTP status of a refused handshake; fails the test if the socket opens instead. */
export async function refusedStatus(url: string, options: OpenOptions = {}): Promise<number> {
  try {
    const client = await openClient(url, options);
    await client.close();
  } catch (err) {
    if (err instanceof HandshakeRefused) return err.status;
    throw err;
  }
  throw new Error("the handshake was expected to be refused, but the socket opened");
}

function parseOrText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
