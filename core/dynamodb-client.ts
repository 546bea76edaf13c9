import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { LOCAL_ENDPOINT_SETTINGS } from "./local-endpoint.js";

/** DynamoDB document client; `endpoint` is for local runs (DynamoDB Local, dynalite). */
export function createDocumentClient(options: { endpoint?: string } = {}): DynamoDBDocumentClient {
  const client = new DynamoDBClient(options.endpoint ? { endpoint: options.endpoint, ...LOCAL_ENDPOINT_SETTINGS } : {});
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}
