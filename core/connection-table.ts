/**
 * The connections table's schema, in one place: the CDK construct creates the table from it and the sandbox creates
 * its local table from it, so the key schema cannot differ between AWS and local runs.
 */
export const ConnectionTable = {
  partitionKey: "connectionId",
  /** Epoch seconds after which DynamoDB may delete the record (a `$disconnect` that never ran). */
  timeToLiveAttribute: "ttl",
} as const;

import type { TokenBucket } from "./rate-limiter.js";

/** A connection as stored. Times are epoch seconds, except `connectedAt` (epoch milliseconds, as API Gateway gives). */
export interface ConnectionRecord {
  connectionId: string;
  userId: string;
  tenantId: string;
  /** Display name from the token, when it carries one. */
  name?: string;
  /** When API Gateway accepted the socket, epoch milliseconds. */
  connectedAt: number;
  /** The access token's `exp`, epoch seconds: the server stops trusting the connection after it. */
  expiresAt: number;
  /** Epoch seconds: API Gateway has closed the socket by then, so the record is garbage. */
  ttl: number;
  /** Rooms the connection is in (a DynamoDB string set), so that leaving for good can clean every one up. */
  rooms?: Set<string>;
  /** The message rate limiter's state; absent until the first message. */
  bucket?: TokenBucket;
}

/** DynamoDB `CreateTable` input for the table, for the sandbox and the tests. */
export function connectionTableCreateInput(tableName: string) {
  return {
    TableName: tableName,
    BillingMode: "PAY_PER_REQUEST" as const,
    AttributeDefinitions: [{ AttributeName: ConnectionTable.partitionKey, AttributeType: "S" as const }],
    KeySchema: [{ AttributeName: ConnectionTable.partitionKey, KeyType: "HASH" as const }],
  };
}
