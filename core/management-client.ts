import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import { ApiGatewayManagementApiClient } from "@aws-sdk/client-apigatewaymanagementapi";
import { DEFAULT_BROADCAST_CONCURRENCY } from "./broadcast.js";
import { ManagementApiConnections } from "./connections-api.js";
import { LOCAL_ENDPOINT_SETTINGS } from "./local-endpoint.js";
import { PostToConnection } from "./post-to-connection.js";

export interface ManagementClientOptions {
  /** The stage's management endpoint (`CALLBACK_URL`). */
  endpoint: string;
  /** Keep-alive sockets: the broadcast's concurrency (the SDK's default of 50 would cap it). @default 200 */
  maxSockets?: number;
}

/**
 * The `@connections` client. The SDK does not retry: the broadcaster retries throttles itself, with backoff, per
 * recipient. Local endpoints get fixed credentials and region.
 */
export function createManagementClient(options: ManagementClientOptions): ApiGatewayManagementApiClient {
  // Expired recipients are closed (DeleteConnection) from inside the broadcast's slots: as many at once as posts.
  const agentOptions = { keepAlive: true, maxSockets: options.maxSockets ?? DEFAULT_BROADCAST_CONCURRENCY };
  return new ApiGatewayManagementApiClient({
    endpoint: options.endpoint,
    maxAttempts: 1,
    requestHandler: { httpAgent: new HttpAgent(agentOptions), httpsAgent: new HttpsAgent(agentOptions) },
    ...(isLocal(options.endpoint) ? LOCAL_ENDPOINT_SETTINGS : {}),
  });
}

/**
 * The management API as the chat uses it: the SDK client, with `PostToConnection` (one call per recipient of every
 * broadcast) sent by `PostToConnection` on connections of its own, with the client's credentials and region.
 */
export function createManagementConnections(options: ManagementClientOptions): ManagementApiConnections {
  const maxSockets = options.maxSockets ?? DEFAULT_BROADCAST_CONCURRENCY;
  const client = createManagementClient({ ...options, maxSockets });
  const poster = new PostToConnection({
    endpoint: options.endpoint,
    region: () => client.config.region(),
    credentials: () => client.config.credentials(),
    maxSockets,
  });
  return new ManagementApiConnections(client, poster);
}

const isLocal = (endpoint: string) => endpoint.startsWith("http://");
