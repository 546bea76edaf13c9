import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import { ApiGatewayManagementApiClient } from "@aws-sdk/client-apigatewaymanagementapi";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { DEFAULT_BROADCAST_CONCURRENCY } from "./broadcast.js";

// Local endpoints (sandbox, DynamoDB Local, dynalite) accept any credentials; fixed ones keep local runs
// independent of the user's AWS setup.
const LOCAL = { region: "local", credentials: { accessKeyId: "local", secretAccessKey: "local" } };

/** DynamoDB document client; `endpoint` is for local runs (DynamoDB Local, dynalite). */
export function createDocumentClient(options: { endpoint?: string } = {}): DynamoDBDocumentClient {
  const client = new DynamoDBClient(options.endpoint ? { endpoint: options.endpoint, ...LOCAL } : {});
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}

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
    ...(options.endpoint.startsWith("http://") ? LOCAL : {}),
  });
}
