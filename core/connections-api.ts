import { type ApiGatewayManagementApiClient, DeleteConnectionCommand } from "@aws-sdk/client-apigatewaymanagementapi";
import { NoAnswer, type PostToConnection } from "./post-to-connection.js";
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

/**
 * A failure that may pass, so the frame is worth sending again later: throttled, a server error, or no answer. After
 * no answer the frame may have arrived; a client sees it twice, and ids let it tell.
 */
export const isTransient = (err: unknown): boolean => {
  const { name, statusCode, $fault } = (err ?? {}) as { name?: string; statusCode?: number; $fault?: string };
  return (
    isThrottled(err) ||
    name === NoAnswer.Timeout ||
    name === NoAnswer.Network ||
    (statusCode !== undefined && statusCode >= 500) ||
    $fault === "server"
  );
};

/** Sends one frame to one connection. */
export const sendFrame = (api: ConnectionsApi, connectionId: string, frame: ServerFrame): Promise<void> =>
  api.post(connectionId, JSON.stringify(frame));
