import { type ApiGatewayManagementApiClient, DeleteConnectionCommand } from "@aws-sdk/client-apigatewaymanagementapi";
import type { PostToConnection } from "./post-to-connection.js";
import type { ServerFrame } from "./protocol.js";

/** Sends to open sockets: the `@connections` management API, or anything that behaves like it. */
export interface ConnectionsApi {
  post(connectionId: string, data: string): Promise<void>;
  /** Closes the socket; API Gateway then runs `$disconnect`. */
  close(connectionId: string): Promise<void>;
}

/**
 * The `@connections` API: posts through the lean `PostToConnection`, everything else through the AWS SDK. Errors
 * come through untouched; see `isGone`/`isThrottled`. Build it with `createManagementConnections`.
 */
export class ManagementApiConnections implements ConnectionsApi {
  constructor(
    private readonly client: ApiGatewayManagementApiClient,
    private readonly poster: Pick<PostToConnection, "post">,
  ) {}

  post(connectionId: string, data: string): Promise<void> {
    return this.poster.post(connectionId, data);
  }

  async close(connectionId: string): Promise<void> {
    await this.client.send(new DeleteConnectionCommand({ ConnectionId: connectionId }));
  }
}

// SDK v3 errors have no statusCode: test the name (FACTS.md), which `ManagementApiError` sets alike.
/** 410: the socket is closed, or never existed. */
export const isGone = (err: unknown): boolean => (err as Error | undefined)?.name === "GoneException";
/** 429: throttled, or the client's buffer is full; worth another try later. */
export const isThrottled = (err: unknown): boolean => (err as Error | undefined)?.name === "LimitExceededException";

/** Sends one frame to one connection. */
export const sendFrame = (api: ConnectionsApi, connectionId: string, frame: ServerFrame): Promise<void> =>
  api.post(connectionId, JSON.stringify(frame));
