import type { IncomingMessage, OutgoingHttpHeaders } from "node:http";
import type { Duplex } from "node:stream";
import { type RawData, type WebSocket, WebSocketServer } from "ws";
import type { Clock } from "../core/clock.js";
import { RouteKey } from "../core/protocol.js";
import { decideAuthorization } from "./authorizer-decision.js";
import { type ConnectionInfo, type ConnectionRegistry, type GatewayConnection, toInfo } from "./connection-registry.js";
import { type ConnectionLimits, ConnectionTimers, type Expiry } from "./connection-timers.js";
import {
  authorizerEvent,
  connectEvent,
  disconnectEvent,
  type EventBase,
  messageEvent,
  methodArn,
  type StageInfo,
} from "./events.js";
import { type IdentitySource, identityValue } from "./identity-source.js";
import { gatewayId } from "./ids.js";
import type { InFlight } from "./in-flight.js";
import { type AuthorizerHandler, IntegrationTimeoutError, type Invoker, type RouteHandler } from "./invoker.js";
import { createRouteSelector } from "./route-selection.js";
import { readUpgradeRequest, type UpgradeRequest } from "./upgrade-request.js";

/** Route key → handler. `$connect`, `$disconnect` and `$default` are optional, as on API Gateway. */
export type RouteTable = Readonly<Record<string, RouteHandler>>;

/** Why a socket closed: the client, a limit, the management API, shutdown, or a test hook that dropped it. */
export type CloseCause = "client" | Expiry | "oversize" | "protocol-error" | "management-api" | "shutdown" | "dropped";

/** How a connection ended, once `$disconnect` (if it runs at all) has finished. */
export interface ConnectionEnd {
  code: number;
  reason: string;
  cause: CloseCause;
}

/** What the gateway reports as it works; the sandbox log turns it into readable lines. */
export interface GatewayLog {
  connected(connection: ConnectionInfo): void;
  /** A refused upgrade: the HTTP status the client got and a short reason (never a token). */
  refused(connectionId: string, status: number, detail: string): void;
  disconnected(connection: ConnectionInfo, close: { code: number; reason: string; cause: CloseCause }): void;
  dropped(connection: ConnectionInfo): void;
  routeFailed(connectionId: string, routeKey: string, error: unknown): void;
}

export interface GatewayOptions {
  stage: StageInfo;
  registry: ConnectionRegistry;
  invoker: Invoker;
  inFlight: InFlight;
  authorizer: AuthorizerHandler;
  routes: RouteTable;
  /** The stack's route selection expression, `$request.body.action`. */
  routeSelectionExpression: string;
  identitySource: IdentitySource;
  limits: ConnectionLimits;
  /**
   * Larger client frames close the socket with 1009. ws counts a message's frames together, so a message sent in
   * several frames is held to this too, where API Gateway would take up to 128 KB: clients (browsers, ws) send one
   * frame a message.
   */
  maxFrameBytes: number;
  /**
   * Whether message and disconnect events carry `requestContext.authorizer`. AWS sends it; `false` checks that the
   * handlers manage without it (FACTS.md: do not rely on it).
   */
  forwardAuthorizerContext: boolean;
  clock: Clock;
  log: GatewayLog;
}

interface PendingUpgrade {
  request: UpgradeRequest;
  base: EventBase;
  connection?: GatewayConnection;
  /** The subprotocol `$connect` chose, echoed in the 101 response. */
  protocol?: string;
}

type Admission = { accept: true } | { accept: false; status: number };

const ERROR_BODIES: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  414: "URI Too Long",
  500: "Internal server error",
  503: "Service Unavailable",
};
/** API Gateway's limit on the request URL, and so on a query-string token. */
const MAX_URL_LENGTH = 4096;
/** How long shutdown waits for clients to answer a close frame before cutting their sockets. */
const CLOSE_GRACE_MS = 1000;

/**
 * The WebSocket side of API Gateway: the authorizer and `$connect` run before the 101 handshake and a refusal never
 * opens the socket; messages are routed by the stack's route selection expression; closing runs `$disconnect`;
 * oversize messages, idle connections and old connections are closed as on AWS.
 */
export class Gateway {
  private readonly pending = new WeakMap<IncomingMessage, PendingUpgrade>();
  private readonly wss: WebSocketServer;
  private readonly selectRoute: (body: string) => string;

  constructor(private readonly options: GatewayOptions) {
    this.selectRoute = createRouteSelector(options.routeSelectionExpression, Object.keys(options.routes));
    this.wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      perMessageDeflate: false,
      maxPayload: options.maxFrameBytes,
      // ws validates the handshake first, so malformed upgrades get 400 before any handler runs.
      verifyClient: (info, done) => this.verify(info.req, done),
      handleProtocols: (_offered, req) => this.pending.get(req)?.protocol ?? false,
    });
  }

  /** The HTTP server's `upgrade` listener. */
  readonly handleUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const stagePath = `/${this.options.stage.stage}`;
    if ((req.url ?? "").length > MAX_URL_LENGTH) {
      refuse(socket, 414);
      return;
    }
    const request = readUpgradeRequest(req);
    if (request.path !== stagePath && request.path !== `${stagePath}/`) {
      refuse(socket, 403);
      return;
    }
    const now = this.options.clock();
    const base: EventBase = {
      stage: this.options.stage,
      connectionId: gatewayId(),
      connectedAt: now,
      requestId: gatewayId(),
      now,
      domainName: request.domainName,
      sourceIp: request.sourceIp,
      userAgent: request.userAgent,
    };
    const pending: PendingUpgrade = { request, base };
    this.pending.set(req, pending);
    this.wss.handleUpgrade(req, socket, head, (ws) => this.open(pending, ws));
  };

  /** Cuts a socket without a close frame and without `$disconnect`, as when a client vanishes and AWS misses it. */
  drop(connectionId: string): boolean {
    const connection = this.options.registry.getOpen(connectionId);
    if (!connection) return false;
    connection.state = "gone";
    connection.timers?.stop();
    this.options.registry.delete(connectionId);
    connection.socket.terminate();
    this.options.log.dropped(toInfo(connection));
    this.ended(connection, { code: 1006, reason: "", cause: "dropped" });
    return true;
  }

  /** Resolves when the connection has ended and its `$disconnect` (if any) has returned. */
  whenEnded(connectionId: string): Promise<ConnectionEnd> {
    const connection = this.options.registry.get(connectionId);
    if (!connection) return Promise.reject(new Error(`no connection ${connectionId}`));
    return new Promise((resolve) => {
      connection.endWaiters = [...(connection.endWaiters ?? []), resolve];
    });
  }

  /** Closes a socket from the server side; `$disconnect` follows. False when it is not open. */
  close(connectionId: string, cause: CloseCause, code = 1000, reason = ""): boolean {
    const connection = this.options.registry.getOpen(connectionId);
    if (!connection) return false;
    connection.closeCause ??= cause;
    connection.socket.close(code, reason);
    return true;
  }

  /** Refuses new sockets, closes the open ones (each runs `$disconnect`) and waits for them to finish closing. */
  async shutdown(): Promise<void> {
    this.wss.close();
    const open = this.options.registry.all().filter((connection) => connection.state === "open" && connection.socket);
    await Promise.all(
      open.map(
        (connection) =>
          new Promise<void>((resolve) => {
            const socket = connection.socket as WebSocket;
            if (socket.readyState === socket.CLOSED) return resolve();
            const cut = setTimeout(() => socket.terminate(), CLOSE_GRACE_MS);
            socket.once("close", () => {
              clearTimeout(cut);
              resolve();
            });
            connection.closeCause ??= "shutdown";
            socket.close(1001, "Going away");
          }),
      ),
    );
  }

  private verify(
    req: IncomingMessage,
    done: (accept: boolean, status?: number, message?: string, headers?: OutgoingHttpHeaders) => void,
  ): void {
    const pending = this.pending.get(req);
    if (!pending) {
      done(false, 500, errorBody(500), JSON_HEADERS);
      return;
    }
    const work = this.admit(pending, req.socket)
      .catch((error: unknown): Admission => {
        // A bug here must still answer the client, not leave its handshake hanging.
        this.options.log.routeFailed(pending.base.connectionId, RouteKey.Connect, error);
        return { accept: false, status: 500 };
      })
      .then(async (admission) => {
        if (!admission.accept) {
          done(false, admission.status, errorBody(admission.status), JSON_HEADERS);
          return;
        }
        done(true);
        // ws opens synchronously inside done(true), unless the client left meanwhile: then `$connect` has run for
        // a socket that will never open, and `$disconnect` must undo it.
        if (pending.connection?.state === "connecting") {
          await this.disconnect(pending.connection, 1006, "Connection lost before the handshake completed");
        }
      });
    void this.options.inFlight.track(work);
  }

  private async admit(pending: PendingUpgrade, socket: Duplex): Promise<Admission> {
    const { base, request } = pending;
    const { log, invoker, routes } = this.options;
    const refuse = (status: number, detail: string): Admission => {
      log.refused(base.connectionId, status, detail);
      return { accept: false, status };
    };

    // A missing identity source is refused by API Gateway itself; the authorizer never sees the request.
    if (identityValue(this.options.identitySource, { query: request.query, headers: request.lookup }) === undefined) {
      return refuse(401, "no token");
    }
    const outcome = await invoker.authorizer(this.options.authorizer, authorizerEvent(base, request));
    const decision = decideAuthorization(outcome, methodArn(base.stage, RouteKey.Connect));
    if (!decision.allow) return refuse(decision.status, decision.detail);
    if (socket.destroyed) return refuse(400, "client left during authorization");

    const connection: GatewayConnection = {
      connectionId: base.connectionId,
      connectedAt: base.connectedAt,
      lastActiveAt: base.connectedAt,
      sourceIp: base.sourceIp,
      sourcePort: request.sourcePort,
      userAgent: base.userAgent,
      domainName: base.domainName,
      authorizer: { ...decision.context, principalId: decision.principalId },
      state: "connecting",
    };
    this.options.registry.add(connection);
    const connect = routes[RouteKey.Connect];
    if (connect) {
      const result = await invoker.route(RouteKey.Connect, connect, connectEvent(base, request, connection.authorizer));
      const status = result.ok ? (result.value?.statusCode ?? 200) : 500;
      if (status < 200 || status > 299) {
        this.options.registry.delete(connection.connectionId);
        return refuse(status, result.ok ? `$connect answered ${status}` : "$connect failed");
      }
      pending.protocol = result.ok ? headerValue(result.value.headers, "sec-websocket-protocol") : undefined;
    }
    pending.connection = connection;
    return { accept: true };
  }

  private open(pending: PendingUpgrade, socket: WebSocket): void {
    const connection = pending.connection;
    if (!connection) return void socket.terminate();
    connection.state = "open";
    connection.socket = socket;
    connection.timers = new ConnectionTimers(this.options.limits, (expiry) => {
      this.close(connection.connectionId, expiry, 1001, "Going away");
    });
    connection.timers.start();
    // A frame ws refuses (oversize, bad UTF-8, protocol) makes it send a close frame and stop reading, so the
    // code it sent is remembered here: the `close` event would only report 1006.
    socket.on("error", (err: Error & { code?: string }) => {
      const code = REFUSED_FRAME_CODES[err.code ?? ""];
      if (code !== undefined && connection.refusedFrame === undefined) {
        connection.refusedFrame = { code, reason: err.message };
        connection.closeCause ??= code === 1009 ? "oversize" : "protocol-error";
      }
    });
    socket.on("message", (data, isBinary) => {
      void this.options.inFlight.track(this.receive(connection, data, isBinary));
    });
    socket.on("close", (code, reason) => {
      connection.timers?.stop();
      void this.options.inFlight.track(this.disconnect(connection, code, reason.toString()));
    });
    this.options.log.connected(toInfo(connection));
  }

  private async receive(connection: GatewayConnection, data: RawData, isBinary: boolean): Promise<void> {
    if (connection.state !== "open") return;
    const now = this.options.clock();
    connection.lastActiveAt = now;
    connection.timers?.touch();
    // ws hands over a Buffer unless told otherwise; copy only what is not one already.
    const buffer = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
    const body = isBinary ? buffer.toString("base64") : buffer.toString("utf8");
    const routeKey = isBinary ? RouteKey.Default : this.selectRoute(body);
    const requestId = gatewayId();
    const handler = this.options.routes[routeKey];
    if (!handler) {
      // No route and no `$default`: API Gateway tells the client so, and no integration runs.
      return this.reply(connection, { message: "Forbidden", connectionId: connection.connectionId, requestId });
    }
    const event = messageEvent(
      this.eventBase(connection, requestId, now),
      { routeKey, messageId: gatewayId(), body, isBase64Encoded: isBinary },
      this.options.forwardAuthorizerContext ? connection.authorizer : undefined,
    );
    const outcome = await this.options.invoker.route(routeKey, handler, event);
    if (!outcome.ok) {
      this.options.log.routeFailed(connection.connectionId, routeKey, outcome.error);
      const timedOut = outcome.error instanceof IntegrationTimeoutError;
      const message = timedOut ? "Endpoint request timed out" : "Internal server error";
      this.reply(connection, { message, connectionId: connection.connectionId, requestId });
    }
  }

  private async disconnect(connection: GatewayConnection, code: number, reason: string): Promise<void> {
    // A dropped connection is the case where AWS never runs `$disconnect`.
    if (connection.state === "gone" || connection.state === "closed") return;
    connection.state = "closed";
    this.options.registry.delete(connection.connectionId);
    const cause = connection.closeCause ?? "client";
    const close = connection.refusedFrame ?? { code, reason: reason || defaultReason(code) };
    const handler = this.options.routes[RouteKey.Disconnect];
    if (handler) {
      const event = disconnectEvent(
        this.eventBase(connection, gatewayId(), this.options.clock()),
        { statusCode: close.code, reason: close.reason },
        this.options.forwardAuthorizerContext ? connection.authorizer : undefined,
      );
      const outcome = await this.options.invoker.route(RouteKey.Disconnect, handler, event);
      if (!outcome.ok) this.options.log.routeFailed(connection.connectionId, RouteKey.Disconnect, outcome.error);
    }
    this.options.log.disconnected(toInfo(connection), { ...close, cause });
    this.ended(connection, { ...close, cause });
  }

  private ended(connection: GatewayConnection, end: ConnectionEnd): void {
    for (const resolve of connection.endWaiters ?? []) resolve(end);
    connection.endWaiters = undefined;
  }

  private eventBase(connection: GatewayConnection, requestId: string, now: number): EventBase {
    return {
      stage: this.options.stage,
      connectionId: connection.connectionId,
      connectedAt: connection.connectedAt,
      requestId,
      now,
      domainName: connection.domainName,
      sourceIp: connection.sourceIp,
      userAgent: connection.userAgent,
    };
  }

  private reply(connection: GatewayConnection, frame: object): void {
    if (connection.state === "open") connection.socket?.send(JSON.stringify(frame));
  }
}

/** The close code ws sends for each frame it refuses, by its error code (`WS_ERR_*`). */
const REFUSED_FRAME_CODES: Record<string, number> = {
  WS_ERR_UNSUPPORTED_MESSAGE_LENGTH: 1009,
  WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH: 1009,
  WS_ERR_TOO_MANY_BUFFERED_PARTS: 1008,
  WS_ERR_INVALID_UTF8: 1007,
  WS_ERR_INVALID_CLOSE_CODE: 1002,
  WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH: 1002,
  WS_ERR_INVALID_OPCODE: 1002,
  WS_ERR_EXPECTED_FIN: 1002,
  WS_ERR_EXPECTED_MASK: 1002,
  WS_ERR_UNEXPECTED_MASK: 1002,
  WS_ERR_UNEXPECTED_RSV_1: 1002,
  WS_ERR_UNEXPECTED_RSV_2_3: 1002,
};

const JSON_HEADERS = { "Content-Type": "application/json" };
const errorBody = (status: number) => JSON.stringify({ message: ERROR_BODIES[status] ?? "Error" });

/** Answers an upgrade that never reaches the WebSocket server (wrong stage, URL too long). */
function refuse(socket: Duplex, status: number): void {
  const body = errorBody(status);
  socket.on("error", () => {});
  socket.end(
    `HTTP/1.1 ${status} ${ERROR_BODIES[status] ?? "Error"}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

function headerValue(headers: Record<string, string> | undefined, name: string): string | undefined {
  const entry = Object.entries(headers ?? {}).find(([key]) => key.toLowerCase() === name);
  return entry?.[1];
}

/** The reason API Gateway reports when the close frame gave none. */
function defaultReason(code: number): string {
  if (code === 1005) return "Client-side close frame status not set";
  if (code === 1006) return "Connection was closed abnormally";
  return "";
}
