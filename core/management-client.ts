import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import { ApiGatewayManagementApiClient } from "@aws-sdk/client-apigatewaymanagementapi";
import { DEFAULT_BROADCAST_CONCURRENCY } from "./broadcast.js";
import { LOCAL_ENDPOINT_SETTINGS } from "./local-endpoint.js";

/**
 * The `@connections` client. Sockets are sized for the broadcast's concurrency (the SDK's default of 50 would cap
 * it), and the SDK does not retry: the broadcaster retries throttles itself, with backoff, per recipient.
 */
export function createManagementClient(options: {
  endpoint: string;
  maxSockets?: number;
}): ApiGatewayManagementApiClient {
  const agentOptions = { keepAlive: true, maxSockets: options.maxSockets ?? DEFAULT_BROADCAST_CONCURRENCY };
  return new ApiGatewayManagementApiClient({
    endpoint: options.endpoint,
    maxAttempts: 1,
    requestHandler: { httpAgent: new HttpAgent(agentOptions), httpsAgent: new HttpsAgent(agentOptions) },
    ...(options.endpoint.startsWith("http://") ? LOCAL_ENDPOINT_SETTINGS : {}),
  });
}
