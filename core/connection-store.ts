import { DeleteCommand, type DynamoDBDocumentClient, GetCommand, PutCommand, ScanCommand } from "@aws-sdk/lib-dynamodb";
import type { Clock } from "./clock.js";
import { toEpochSeconds } from "./clock.js";
import { type ConnectionRecord, ConnectionTable } from "./connection-table.js";

/** What a broadcast needs of a connection; a narrow projection keeps Scan pages small. */
export type Recipient = Pick<ConnectionRecord, "connectionId" | "expiresAt">;

export interface ScanOptions {
  /** Items read per Scan request. @default 1000 */
  pageSize?: number;
  /** Parallel Scan segment this reader covers. @default the whole table */
  segment?: { index: number; total: number };
}

/** Reads and writes connection records. Knows the table, not who calls it. */
export class ConnectionStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly clock: Clock,
  ) {}

  async put(record: ConnectionRecord): Promise<void> {
    await this.client.send(new PutCommand({ TableName: this.tableName, Item: record }));
  }

  /** The live record, or undefined when there is none or its TTL has passed (DynamoDB deletes lazily). */
  async get(connectionId: string): Promise<ConnectionRecord | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: { [ConnectionTable.partitionKey]: connectionId } }),
    );
    const record = Item as ConnectionRecord | undefined;
    return record && record.ttl > toEpochSeconds(this.clock()) ? record : undefined;
  }

  async delete(connectionId: string): Promise<void> {
    await this.client.send(
      new DeleteCommand({ TableName: this.tableName, Key: { [ConnectionTable.partitionKey]: connectionId } }),
    );
  }

  /**
   * Live connections, one Scan page at a time, so memory holds a page and never the whole table.
   * Records past their TTL are filtered out: DynamoDB may take days to delete them.
   */
  async *scan(options: ScanOptions = {}): AsyncGenerator<Recipient[]> {
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.client.send(
        new ScanCommand({
          TableName: this.tableName,
          Limit: options.pageSize ?? 1000,
          ExclusiveStartKey: startKey,
          ProjectionExpression: "#id, #exp",
          FilterExpression: "#ttl > :now",
          ExpressionAttributeNames: {
            "#id": ConnectionTable.partitionKey,
            "#exp": "expiresAt",
            "#ttl": ConnectionTable.timeToLiveAttribute,
          },
          ExpressionAttributeValues: { ":now": toEpochSeconds(this.clock()) },
          Segment: options.segment?.index,
          TotalSegments: options.segment?.total,
        }),
      );
      startKey = page.LastEvaluatedKey;
      if (page.Items?.length) yield page.Items as Recipient[];
    } while (startKey);
  }
}
