import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  UpdateCommand,
  type UpdateCommandOutput,
} from "@aws-sdk/lib-dynamodb";
import { type Clock, toEpochSeconds } from "./clock.js";
import { type ConnectionRecord, ConnectionTable } from "./connection-table.js";
import type { TokenBucket } from "./rate-limiter.js";

type UpdateInput = Omit<UpdateCommand["input"], "TableName">;

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
      new GetCommand({ TableName: this.tableName, Key: this.key(connectionId), ConsistentRead: true }),
    );
    const record = Item as ConnectionRecord | undefined;
    return record && record.ttl > toEpochSeconds(this.clock()) ? record : undefined;
  }

  /**
   * Extends the session of a connection held by `userId` to `expiresAt`, never back (of two renewals at once, the
   * later end stays), and resolves to the record as it now is (its rooms may have changed since it was read, its
   * end may be later still); undefined when there is no such connection.
   */
  async renew(connectionId: string, userId: string, expiresAt: number): Promise<ConnectionRecord | undefined> {
    const output = await this.conditionalUpdate({
      Key: this.key(connectionId),
      UpdateExpression: "SET expiresAt = :exp",
      ConditionExpression: "attribute_exists(#id) AND userId = :user AND expiresAt < :exp",
      ExpressionAttributeNames: { "#id": ConnectionTable.partitionKey },
      ExpressionAttributeValues: { ":exp": expiresAt, ":user": userId },
      ReturnValues: "ALL_NEW",
    });
    if (output) return output.Attributes as ConnectionRecord;
    // Gone, someone else's, or already renewed further: only the last is a renewal.
    const current = await this.get(connectionId);
    return current?.userId === userId ? current : undefined;
  }

  /**
   * Stores the rate limiter's new state if nobody changed it since `previous` was read (another message from the
   * same connection, handled by another Lambda instance); false when somebody did.
   */
  async saveBucket(connectionId: string, previous: TokenBucket | undefined, next: TokenBucket): Promise<boolean> {
    const unchanged =
      previous === undefined
        ? "attribute_not_exists(#bucket)"
        : previous.version === undefined
          ? "attribute_not_exists(#bucket.version)"
          : "#bucket.version = :version";
    return this.succeeded({
      Key: this.key(connectionId),
      // BUCKET is a DynamoDB reserved word: it must go through a placeholder.
      UpdateExpression: "SET #bucket = :next",
      ConditionExpression: `attribute_exists(#id) AND ${unchanged}`,
      ExpressionAttributeNames: { "#id": ConnectionTable.partitionKey, "#bucket": "bucket" },
      ExpressionAttributeValues: {
        ":next": { ...next, version: (previous?.version ?? 0) + 1 },
        ...(previous?.version === undefined ? {} : { ":version": previous.version }),
      },
    });
  }

  /**
   * Notes that the connection joined `room`; false when it is already in `max` other rooms, or has gone.
   * Joining a room twice is no change.
   */
  async addRoom(connectionId: string, room: string, max: number): Promise<boolean> {
    return this.succeeded({
      Key: this.key(connectionId),
      UpdateExpression: "ADD rooms :room",
      ConditionExpression:
        "attribute_exists(#id) AND (attribute_not_exists(rooms) OR size(rooms) < :max OR contains(rooms, :name))",
      ExpressionAttributeNames: { "#id": ConnectionTable.partitionKey },
      ExpressionAttributeValues: { ":room": new Set([room]), ":name": room, ":max": max },
    });
  }

  async removeRoom(connectionId: string, room: string): Promise<void> {
    await this.conditionalUpdate({
      Key: this.key(connectionId),
      UpdateExpression: "DELETE rooms :room",
      ConditionExpression: "attribute_exists(#id)",
      ExpressionAttributeNames: { "#id": ConnectionTable.partitionKey },
      ExpressionAttributeValues: { ":room": new Set([room]) },
    });
  }

  /** Deletes the record, and resolves to it as it was when deleted (its rooms as of that moment), if there was one. */
  async delete(connectionId: string): Promise<ConnectionRecord | undefined> {
    const { Attributes } = await this.client.send(
      new DeleteCommand({ TableName: this.tableName, Key: this.key(connectionId), ReturnValues: "ALL_OLD" }),
    );
    return Attributes as ConnectionRecord | undefined;
  }

  private key(connectionId: string) {
    return { [ConnectionTable.partitionKey]: connectionId };
  }

  /** The update's output; undefined when its condition failed. */
  private async conditionalUpdate(input: UpdateInput): Promise<UpdateCommandOutput | undefined> {
    try {
      return await this.client.send(new UpdateCommand({ TableName: this.tableName, ...input }));
    } catch (err) {
      if ((err as Error).name === "ConditionalCheckFailedException") return undefined;
      throw err;
    }
  }

  private async succeeded(input: UpdateInput): Promise<boolean> {
    return (await this.conditionalUpdate(input)) !== undefined;
  }
}
