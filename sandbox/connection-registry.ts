import type { WebSocket } from "ws";
import type { ConnectionTimers } from "./connection-timers.js";
import type { AuthorizerContextStrings } from "./events.js";
import type { CloseCause, ConnectionEnd } from "./gateway.js";

/**
 * `connecting`: `$connect` is running or the handshake is finishing; the management API answers 410, as API Gateway
 * does before the socket opens. `open`: messages flow. `closed`: closed, `$disconnect` runs. `gone`: dropped by a
 * test hook, and no `$disconnect` will run.
 */
export type ConnectionState = "connecting" | "open" | "closed" | "gone";

/** One socket as the gateway tracks it. */
export interface GatewayConnection {
  readonly connectionId: string;
  /** Epoch ms. */
  readonly connectedAt: number;
  /** Epoch ms of the last client message. */
  lastActiveAt: number;
  readonly sourceIp: string;
  readonly sourcePort?: number;
  readonly userAgent: string | undefined;
  readonly domainName: string;
  /** `principalId` and the authorizer's context, as integrations receive them. */
  readonly authorizer: AuthorizerContextStrings;
  state: ConnectionState;
  socket?: WebSocket;
  timers?: ConnectionTimers;
  /** Set when the server side closes the socket, so the log can say why. */
  closeCause?: CloseCause;
  /** The close frame the gateway sent after refusing a client frame (1009 for an oversize message). */
  refusedFrame?: { code: number; reason: string };
  /** Waiting for the connection to end (test hooks). */
  endWaiters?: ((end: ConnectionEnd) => void)[];
}

/** A copy safe to hand out: what tests and the log may read of a connection. */
export interface ConnectionInfo {
  connectionId: string;
  principalId: string | undefined;
  authorizer: AuthorizerContextStrings;
  connectedAt: number;
  lastActiveAt: number;
  sourceIp: string;
  /** The client's port: a test client finds its connection by its socket's local port. Not an API Gateway value. */
  sourcePort?: number;
  userAgent: string | undefined;
  state: ConnectionState;
}

/** The connections of one sandbox. Each sandbox has its own, so several can run in one process. */
export class ConnectionRegistry {
  private readonly connections = new Map<string, GatewayConnection>();

  add(connection: GatewayConnection): void {
    this.connections.set(connection.connectionId, connection);
  }

  get(connectionId: string): GatewayConnection | undefined {
    return this.connections.get(connectionId);
  }

  /** The connection if its socket is open: the only state in which the management API reaches it. */
  getOpen(connectionId: string): (GatewayConnection & { socket: WebSocket }) | undefined {
    const connection = this.connections.get(connectionId);
    return connection?.state === "open" && connection.socket
      ? (connection as GatewayConnection & { socket: WebSocket })
      : undefined;
  }

  delete(connectionId: string): void {
    this.connections.delete(connectionId);
  }

  get size(): number {
    return this.connections.size;
  }

  all(): GatewayConnection[] {
    return [...this.connections.values()];
  }

  info(): ConnectionInfo[] {
    return this.all().map(toInfo);
  }
}

export const toInfo = (connection: GatewayConnection): ConnectionInfo => ({
  connectionId: connection.connectionId,
  principalId: connection.authorizer.principalId,
  authorizer: { ...connection.authorizer },
  connectedAt: connection.connectedAt,
  lastActiveAt: connection.lastActiveAt,
  sourceIp: connection.sourceIp,
  sourcePort: connection.sourcePort,
  userAgent: connection.userAgent,
  state: connection.state,
});
