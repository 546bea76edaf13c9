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
  used = false;
  /** When it was last put back, ms since the epoch. */
  idleSince = 0;
  /** The first error the socket reported. */
  failure: Error | undefined;

  constructor(readonly socket: Socket | TLSSocket) {}
}

/**
 * HTTP/1.1 on a fixed number of kept-alive connections, one request in flight on each: what a broadcast needs to
 * keep hundreds of `PostToConnection` calls going, at a fraction of `node:http`'s CPU per request. Each request goes
 * out in one write and its answer is read with `Http1ResponseParser`. A request sent on a reused connection that
 * closes before any byte of answer is sent once more (the server closed it idle; nothing was read).
 */
export class KeepAlivePool {
  private readonly connections = new Set<PooledConnection>();
  private readonly idle: PooledConnection[] = [];
  private readonly waiting: { resolve: (c: PooledConnection) => void; reject: (e: Error) => void }[] = [];
  private open = 0;
  private closed = false;
  private readonly secure: boolean;
  private readonly host: string;
  private readonly port: number;
  private tlsSession: Buffer | undefined;

  constructor(private readonly options: KeepAlivePoolOptions) {
    if (!Number.isInteger(options.maxSockets) || options.maxSockets < 1) {
      throw new RangeError(`maxSockets must be a whole number from 1, not ${options.maxSockets}`);
    }
    if (!(options.timeoutMs > 0)) throw new RangeError(`timeoutMs must be above 0, not ${options.timeoutMs}`);
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
      return this.send(await this.acquire(), head, body);
    }
  }

  /** Closes every connection for good: requests in flight, waiting or made later fail. */
  destroy(): void {
    this.closed = true;
    for (const waiter of this.waiting.splice(0)) waiter.reject(poolClosed());
    for (const connection of this.connections) connection.socket.destroy(poolClosed());
  }

  private send(connection: PooledConnection, head: string, body: string): Promise<Http1Response> {
    return new Promise((resolve, reject) => {
      connection.exchange = { resolve, reject, reused: connection.used };
      connection.used = true;
      connection.socket.write(head + body);
    });
  }

  private acquire(): PooledConnection | Promise<PooledConnection> {
    if (this.closed) throw poolClosed();
    const now = Date.now();
    for (let connection = this.idle.pop(); connection; connection = this.idle.pop()) {
      // Idle past its timeout without the timer having closed it: the process was frozen (Lambda between
      // invocations) and the server has likely dropped it. Or it was closed and the event has not come yet.
      if (connection.socket.writable && now - connection.idleSince < this.options.timeoutMs) return connection;
      connection.socket.destroy();
    }
    if (this.open < this.options.maxSockets) {
      this.open++;
      return this.connect();
    }
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  private release(connection: PooledConnection): void {
    const waiter = this.waiting.shift();
    if (waiter) {
      waiter.resolve(connection);
      return;
    }
    connection.idleSince = Date.now();
    this.idle.push(connection);
  }

  /** A connection closed (or could not be made): its place goes to the next request waiting, if any. */
  private forget(connection: PooledConnection | undefined): void {
    if (connection) {
      this.connections.delete(connection);
      const at = this.idle.indexOf(connection);
      if (at >= 0) this.idle.splice(at, 1);
    }
    this.open--;
    const waiter = this.closed ? undefined : this.waiting.shift();
    if (waiter) {
      this.open++;
      this.connect().then(waiter.resolve, waiter.reject);
    }
  }

  /** A new connection, resolved once it is ready for a request; its place is already counted in `open`. */
  private connect(): Promise<PooledConnection> {
    return new Promise((resolve, reject) => {
      let socket: Socket | TLSSocket;
      try {
        socket = this.secure
          ? tlsConnect({
              host: this.host,
              port: this.port,
              servername: isIP(this.host) ? undefined : this.host,
              ALPNProtocols: ["http/1.1"],
              session: this.tlsSession,
              ...this.options.tls,
            })
          : tcpConnect({ host: this.host, port: this.port });
      } catch (err) {
        this.forget(undefined);
        reject(err);
        return;
      }
      const connection = new PooledConnection(socket);
      this.connections.add(connection);
      let ready = false;
      socket.setNoDelay(true);
      socket.setTimeout(this.options.timeoutMs);
      socket.on("error", (err) => {
        connection.failure ??= err;
      });
      socket.on("timeout", () => {
        socket.destroy(ready && !connection.exchange ? undefined : new RequestTimeoutError(this.options.timeoutMs));
      });
      socket.once(this.secure ? "secureConnect" : "connect", () => {
        ready = true;
        resolve(connection);
      });
      if (this.secure) socket.on("session", (session: Buffer) => (this.tlsSession = session));
      socket.on("data", (chunk: Buffer) => this.read(connection, chunk));
      socket.on("end", () => this.ended(connection));
      socket.on("close", () => {
        this.forget(connection);
        if (ready) {
          this.lost(connection);
          return;
        }
        if (this.secure) this.tlsSession = undefined; // a handshake that failed may be the session's fault
        reject(connection.failure ?? new ConnectionLostError("the connection closed before it was made", false));
      });
    });
  }

  private read(connection: PooledConnection, chunk: Buffer): void {
    const { socket, parser, exchange } = connection;
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
  }

  /** The server ended the connection: that completes an answer read to the end, and fails any other. */
  private ended(connection: PooledConnection): void {
    const { exchange, parser } = connection;
    if (exchange && parser.started) {
      connection.exchange = undefined;
      try {
        exchange.resolve(parser.end());
      } catch (err) {
        exchange.reject(err as Error);
      }
    }
    connection.socket.destroy();
  }

  /** The connection closed with a request in flight. */
  private lost(connection: PooledConnection): void {
    const { exchange, failure, parser } = connection;
    if (!exchange) return;
    connection.exchange = undefined;
    // Ours (a timeout, a bad answer, the pool closing) as they are; the socket's own as a lost connection.
    if (failure instanceof ChatError) {
      exchange.reject(failure);
      return;
    }
    const unanswered = exchange.reused && !parser.started;
    exchange.reject(new ConnectionLostError(failure?.message ?? "the connection closed before the answer", unanswered));
  }
}

const poolClosed = () => new ConnectionLostError("the pool was closed", false);
