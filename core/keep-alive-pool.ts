import { isIP, type Socket, connect as tcpConnect } from "node:net";
import { type ConnectionOptions, type TLSSocket, connect as tlsConnect } from "node:tls";
import { ChatError } from "./errors.js";
import { type Http1Response, Http1ResponseParser } from "./http1-response-parser.js";

export interface KeepAlivePoolOptions {
  /** `http://` or `https://` host and port; the path is the caller's. */
  origin: URL;
  /** Connections at most; requests beyond wait for one in turn. */
  maxSockets: number;
  /** A request (or a connect) with no byte moving for this long fails; an idle connection is closed. */
  timeoutMs: number;
  /** For tests: a private CA. @default Node's trusted CAs, and the certificate must match the host */
  tls?: Pick<ConnectionOptions, "ca">;
}

/** No byte of an answer came within the timeout. Nothing can be said of whether the server acted on the request. */
export class RequestTimeoutError extends ChatError {
  constructor(readonly timeoutMs: number) {
    super(`no answer in ${timeoutMs} ms`);
  }
}

/** The connection failed or closed before a whole answer arrived. */
export class ConnectionLostError extends ChatError {
  constructor(
    detail: string,
    /** The request went out on a kept-alive connection that closed before any byte of answer: safe to send again. */
    readonly unanswered: boolean,
  ) {
    super(detail);
  }
}

interface Exchange {
  resolve: (response: Http1Response) => void;
  reject: (error: Error) => void;
  reused: boolean;
}

/** One kept-alive connection, carrying one request at a time. */
class PooledConnection {
  readonly parser = new Http1ResponseParser();
  exchange: Exchange | undefined;
  requests = 0;
  closed = false;
  failure: Error | undefined;

  constructor(readonly socket: Socket | TLSSocket) {}
}

/**
 * HTTP/1.1 on a fixed number of kept-alive connections, one request in flight on each: what a broadcast needs to
 * keep hundreds of `PostToConnection` calls going, at a fraction of `node:http`'s CPU per request. Each request goes
 * out in one write and its answer is read with `Http1ResponseParser`. A request sent on a reused connection that
 * closes before any byte of answer is sent once more on a new one (the server closed it idle; nothing was read).
 */
export class KeepAlivePool {
  private readonly connections = new Set<PooledConnection>();
  private readonly idle: PooledConnection[] = [];
  private readonly waiting: { resolve: (c: PooledConnection) => void; reject: (e: Error) => void }[] = [];
  private open = 0;
  private readonly secure: boolean;
  private readonly host: string;
  private readonly port: number;
  private tlsSession: Buffer | undefined;

  constructor(private readonly options: KeepAlivePoolOptions) {
    this.secure = options.origin.protocol === "https:";
    // `new URL` keeps IPv6 hosts in brackets; sockets want them bare.
    this.host = options.origin.hostname.replace(/^\[(.*)\]$/, "$1");
    this.port = Number(options.origin.port) || (this.secure ? 443 : 80);
  }

  /**
   * Sends `head` (request line and headers, ending with the empty line; the caller writes `Host` and
   * `Content-Length`) and `body`, and resolves to the answer. Rejects with `RequestTimeoutError`,
   * `ConnectionLostError`, `HttpProtocolError` or the socket's own error.
   */
  async request(head: string, body: string): Promise<Http1Response> {
    try {
      return await this.send(await this.acquire(), head, body);
    } catch (err) {
      if (!(err instanceof ConnectionLostError && err.unanswered)) throw err;
      return this.send(await this.acquire(true), head, body);
    }
  }

  /** Closes every connection; requests in flight or waiting fail. */
  destroy(): void {
    for (const waiter of this.waiting.splice(0)) waiter.reject(new ConnectionLostError("the pool was closed", false));
    for (const connection of this.connections) connection.socket.destroy();
  }

  private send(connection: PooledConnection, head: string, body: string): Promise<Http1Response> {
    return new Promise((resolve, reject) => {
      connection.exchange = { resolve, reject, reused: connection.requests > 0 };
      connection.requests++;
      connection.socket.write(head + body);
    });
  }

  private acquire(fresh = false): PooledConnection | Promise<PooledConnection> {
    if (!fresh) {
      const connection = this.idle.pop();
      if (connection) return connection;
    }
    if (this.open < this.options.maxSockets) {
      this.open++;
      return this.connect();
    }
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  private release(connection: PooledConnection): void {
    const waiter = this.waiting.shift();
    if (waiter) waiter.resolve(connection);
    else this.idle.push(connection);
  }

  /** A connection closed: its place goes to the next request waiting, if any. */
  private forget(connection: PooledConnection): void {
    this.connections.delete(connection);
    const at = this.idle.indexOf(connection);
    if (at >= 0) this.idle.splice(at, 1);
    this.open--;
    const waiter = this.waiting.shift();
    if (waiter) {
      this.open++;
      this.connect().then(waiter.resolve, waiter.reject);
    }
  }

  private connect(): Promise<PooledConnection> {
    const socket = this.secure
      ? tlsConnect({
          host: this.host,
          port: this.port,
          servername: isIP(this.host) ? undefined : this.host,
          ALPNProtocols: ["http/1.1"],
          session: this.tlsSession,
          ...this.options.tls,
        })
      : tcpConnect({ host: this.host, port: this.port });
    socket.setNoDelay(true);
    socket.setTimeout(this.options.timeoutMs);
    if (this.secure) socket.on("session", (session: Buffer) => (this.tlsSession = session));
    const connection = new PooledConnection(socket);
    this.connections.add(connection);
    return new Promise((resolve, reject) => {
      const failed = (err: Error) => {
        this.forget(connection);
        reject(err);
      };
      socket.once("error", failed);
      socket.once("timeout", () => socket.destroy(new RequestTimeoutError(this.options.timeoutMs)));
      socket.once(this.secure ? "secureConnect" : "connect", () => {
        socket.off("error", failed);
        socket.removeAllListeners("timeout");
        this.watch(connection);
        resolve(connection);
      });
    });
  }

  private watch(connection: PooledConnection): void {
    const { socket, parser } = connection;
    socket.on("data", (chunk: Buffer) => {
      const exchange = connection.exchange;
      if (!exchange) {
        socket.destroy(); // bytes nobody asked for
        return;
      }
      let response: Http1Response | undefined;
      try {
        response = parser.push(chunk);
      } catch (err) {
        socket.destroy(err as Error);
        return;
      }
      if (!response) return;
      connection.exchange = undefined;
      if (response.closing || parser.hasLeftover) socket.destroy();
      else this.release(connection);
      exchange.resolve(response);
    });
    socket.on("timeout", () => {
      socket.destroy(connection.exchange ? new RequestTimeoutError(this.options.timeoutMs) : undefined);
    });
    socket.on("end", () => {
      const exchange = connection.exchange;
      if (exchange && parser.started) {
        connection.exchange = undefined;
        try {
          exchange.resolve(parser.end());
        } catch (err) {
          exchange.reject(err as Error);
        }
      }
      socket.destroy();
    });
    socket.on("error", (err) => {
      connection.failure = err;
    });
    socket.on("close", () => {
      if (connection.closed) return;
      connection.closed = true;
      this.forget(connection);
      const exchange = connection.exchange;
      if (!exchange) return;
      connection.exchange = undefined;
      const { failure } = connection;
      if (failure instanceof RequestTimeoutError || (failure && !(failure as NodeJS.ErrnoException).code)) {
        exchange.reject(failure);
        return;
      }
      const unanswered = exchange.reused && !parser.started;
      exchange.reject(
        new ConnectionLostError(failure?.message ?? "the connection closed before the answer", unanswered),
      );
    });
  }
}
