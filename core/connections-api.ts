import {
  type ApiGatewayManagementApiClient,
  DeleteConnectionCommand,
  PostToConnectionCommand,
} from "@aws-sdk/client-apigatewaymanagementapi";
import type { ServerFrame } from "./protocol.js";

/** Sends to open sockets: the `@connections` management API, or anything that behaves like it. */
export interface ConnectionsApi {
  post(connectionId: string, data: string): Promise<void>;
  /** Closes the socket; API Gateway then runs `$disconnect`. */
  close(connectionId: string): Promise<void>;
}

/** The `@connections` API over the AWS SDK. Errors come through untouched; see `isGone`/`isThrottled`. */
export class ManagementApiConnections implements ConnectionsApi {
  private readonly encoder = new TextEncoder();

  constructor(private readonly client: ApiGatewayManagementApiClient) {}

  async post(connectionId: string, data: string): Promise<void> {
    await this.client.send(
      new PostToConnectionCommand({ ConnectionId: connectionId, Data: this.encoder.encode(data) }),
    );
  }

  async close(connectionId: string): Promise<void> {
    await this.client.send(new DeleteConnectionCommand({ ConnectionId: connectionId }));
  }
}

// SDK v3 errors have no statusCode: test the name (FACTS.md).
/** 410: the socket is closed, or never existed. */
export const isGone = (err: unknown): boolean => (err as Error | undefined)?.name === "GoneException";
/** 429: throttled, or the client's buffer is full; worth another try later. */
export const isThrottled = (err: unknown): boolean => (err as Error | undefined)?.name === "LimitExceededException";

/** Sends one frame to one connection. */
export const sendFrame = (api: ConnectionsApi, connectionId: string, frame: ServerFrame): Promise<void> =>
  api.post(connectionId, JSON.stringify(frame));
