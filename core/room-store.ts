import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { type Clock, toEpochSeconds } from "./clock.js";
import { type ChatUser, chatUserOf, type MessageFrame, messageId } from "./protocol.js";
import { type MemberItem, type MessageItem, RoomTable, SortKey } from "./room-table.js";

/** What a Query of members returns: enough to send to, close, and show in presence. */
export type Member = Pick<MemberItem, "connectionId" | "userId" | "name" | "expiresAt">;

/** A member and when it joined. */
export type Membership = Member & Pick<MemberItem, "joinedAt">;

/** Who is online in a room, and the room's presence version when that was read. */
export interface Presence {
  users: ChatUser[];
  version: number;
}

/** A page of history, oldest first. */
export interface HistoryPage {
  messages: MessageFrame[];
  hasMore: boolean;
}

const MAX_HISTORY_READS = 10;
/** A broadcast's first read: enough recipients to fill its 200 send slots (`DEFAULT_BROADCAST_CONCURRENCY`). */
const FIRST_PAGE_SIZE = 200;
const MEMBER_PROJECTION = "connectionId, userId, #name, expiresAt";
const MEMBERSHIP_PROJECTION = `${MEMBER_PROJECTION}, joinedAt`;

/**
 * Room membership, message history and sequence numbers, all by Query on the room's partition. Queries are strongly
 * consistent: a join, a leave and a broadcast each read after their own write and rely on seeing the others' (see
 * `ChatService`), which an eventually consistent read may not yet show.
 */
export class RoomStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly clock: Clock,
  ) {}

  /** Puts a new connection in a room without joining it (`$connect`'s lobby, until the page sends `join`). */
  async addMember(member: Omit<MemberItem, "sk" | "joinedAt">): Promise<void> {
    const item: MemberItem = { ...member, sk: SortKey.member(member.userId, member.connectionId) };
    await this.client.send(new PutCommand({ TableName: this.tableName, Item: item }));
  }

  /**
   * Puts the connection in the room, or refreshes its membership (the lobby's from `$connect`, or a repeated
   * `join`), and resolves to when it first joined, epoch ms: the first `join` sets it, later ones keep it.
   */
  async joinMember(member: Omit<MemberItem, "sk" | "joinedAt">): Promise<number> {
    const { room, userId, connectionId, name, expiresAt, ttl } = member;
    // The first join's time stays; the rest follows the connection.
    const set = [
      "joinedAt = if_not_exists(joinedAt, :now)",
      "connectionId = :id",
      "userId = :user",
      "expiresAt = :exp",
      "#ttl = :ttl",
    ];
    const names: Record<string, string> = { "#ttl": RoomTable.timeToLiveAttribute };
    const values: Record<string, unknown> = {
      ":id": connectionId,
      ":user": userId,
      ":exp": expiresAt,
      ":ttl": ttl,
      ":now": this.clock(),
    };
    if (name !== undefined) {
      set.push("#name = :name");
      names["#name"] = "name";
      values[":name"] = name;
    }
    const { Attributes } = await this.client.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: this.key(room, SortKey.member(userId, connectionId)),
        UpdateExpression: `SET ${set.join(", ")}`,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
        ReturnValues: "ALL_NEW",
      }),
    );
    return Number(Attributes?.joinedAt);
  }

  async removeMember(room: string, userId: string, connectionId: string): Promise<void> {
    await this.client.send(
      new DeleteCommand({ TableName: this.tableName, Key: this.key(room, SortKey.member(userId, connectionId)) }),
    );
  }

  /**
   * Carries a refreshed session's end onto the connection's membership, so broadcasts keep sending to it; never back
   * (a slower renewal to an earlier end changes nothing).
   */
  async setMemberExpiry(room: string, userId: string, connectionId: string, expiresAt: number): Promise<void> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: this.key(room, SortKey.member(userId, connectionId)),
          UpdateExpression: "SET expiresAt = :exp",
          ConditionExpression: "attribute_exists(sk) AND expiresAt < :exp",
          ExpressionAttributeValues: { ":exp": expiresAt },
        }),
      );
    } catch (err) {
      if ((err as Error).name !== "ConditionalCheckFailedException") throw err;
    }
  }

  /**
   * The room's live connections, a page at a time. The first page is small, so that a broadcast's first sends
   * leave after a short read; the broadcaster reads each later page while it sends the one before.
   */
  async *members(room: string, pageSize = 1000, firstPageSize = FIRST_PAGE_SIZE): AsyncGenerator<Member[]> {
    yield* this.queryMembers(room, SortKey.anyMember, pageSize, firstPageSize);
  }

  /** Whether `userId` has a live connection in the room. */
  async isPresent(room: string, userId: string): Promise<boolean> {
    for await (const page of this.queryMembers(room, SortKey.membersOf(userId), 100)) {
      if (page.length > 0) return true;
    }
    return false;
  }

  /** The user's live connections in the room, with when each joined (absent until its `join`). */
  async membershipsOf(room: string, userId: string): Promise<Membership[]> {
    const memberships: Membership[] = [];
    const pages = this.queryMembers<Membership>(room, SortKey.membersOf(userId), 100, 100, MEMBERSHIP_PROJECTION);
    for await (const page of pages) memberships.push(...page);
    return memberships;
  }

  /**
   * Users online in the room, each once however many connections they have, up to `max`, with the room's presence
   * version read before them: every change that took a version up to it wrote its membership before, so the list
   * shows it.
   */
  async presence(room: string, max: number): Promise<Presence> {
    // A Query for the one item, as every read of a room is (so the rooms' Query grant covers it).
    const { Items } = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: "#room = :room AND #sk = :sk",
        ExpressionAttributeNames: { "#room": RoomTable.partitionKey, "#sk": RoomTable.sortKey },
        ExpressionAttributeValues: { ":room": room, ":sk": SortKey.presence },
        ConsistentRead: true,
      }),
    );
    const users = new Map<string, ChatUser>();
    // Members sort by user id, so a user's connections are adjacent and the loop can stop at `max` users.
    // Full pages from the start: the broadcast's small first page would cost a join an extra read.
    pages: for await (const page of this.queryMembers(room, SortKey.anyMember, 1000)) {
      for (const { userId, name } of page) {
        if (users.size >= max && !users.has(userId)) break pages;
        users.set(userId, chatUserOf({ userId, name }));
      }
    }
    return { users: [...users.values()], version: Number(Items?.[0]?.last ?? 0) };
  }

  /**
   * The room's next presence version. A join or a leave takes one after writing its membership and before asking
   * who is there, so the change with the highest version saw every membership written before it.
   */
  nextPresenceVersion(room: string): Promise<number> {
    return this.increment(room, SortKey.presence);
  }

  /** The next message id of the room: an atomic counter, so ids strictly increase whichever Lambda asks. */
  async nextMessageId(room: string): Promise<string> {
    return messageId(await this.increment(room, SortKey.counter));
  }

  async saveMessage(message: MessageFrame, ttl: number): Promise<void> {
    const item: MessageItem = { ...message, sk: SortKey.message(message.id), ttl };
    await this.client.send(new PutCommand({ TableName: this.tableName, Item: item }));
  }

  /** The newest `limit` messages, or those just before `before`, or just after `after`; oldest first. */
  async history(room: string, options: { limit: number; before?: string; after?: string }): Promise<HistoryPage> {
    const { limit, before, after } = options;
    const newestFirst = after === undefined;
    // Ids are zero-padded numbers, so the neighbours of an id bound the range exactly (BETWEEN is inclusive).
    const low = after === undefined ? SortKey.anyMessage : SortKey.message(messageId(Number(after) + 1));
    const high = before === undefined ? `${SortKey.anyMessage}~` : SortKey.message(messageId(Number(before) - 1));
    const found: MessageItem[] = [];
    let startKey: Record<string, unknown> | undefined;
    // Expired messages wait for DynamoDB's lazy TTL deletion: filter them, and read on until a page is full. One
    // more than the page tells whether there are more; the cap bounds the reads through a long expired stretch.
    for (let reads = 0; reads < MAX_HISTORY_READS && found.length <= limit; reads++) {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: "#room = :room AND #sk BETWEEN :low AND :high",
          FilterExpression: "#ttl > :now",
          ExpressionAttributeNames: {
            "#room": RoomTable.partitionKey,
            "#sk": RoomTable.sortKey,
            "#ttl": RoomTable.timeToLiveAttribute,
          },
          ExpressionAttributeValues: {
            ":room": room,
            ":low": low,
            ":high": high,
            ":now": toEpochSeconds(this.clock()),
          },
          ScanIndexForward: !newestFirst,
          ConsistentRead: true,
          Limit: limit + 1 - found.length,
          ExclusiveStartKey: startKey,
        }),
      );
      found.push(...((page.Items ?? []) as MessageItem[]));
      startKey = page.LastEvaluatedKey;
      if (!startKey) break;
    }
    const messages = found.slice(0, limit).map(({ sk: _sk, ttl: _ttl, ...message }) => message);
    return {
      messages: newestFirst ? messages.reverse() : messages,
      hasMore: found.length > limit || startKey !== undefined,
    };
  }

  /** Adds one to the counter item `sk` of the room (created at 1) and resolves to the new value. */
  private async increment(room: string, sk: string): Promise<number> {
    const { Attributes } = await this.client.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: this.key(room, sk),
        UpdateExpression: "ADD #last :one",
        ExpressionAttributeNames: { "#last": "last" },
        ExpressionAttributeValues: { ":one": 1 },
        ReturnValues: "UPDATED_NEW",
      }),
    );
    return Number(Attributes?.last);
  }

  private key(room: string, sk: string) {
    return { [RoomTable.partitionKey]: room, [RoomTable.sortKey]: sk };
  }

  private async *queryMembers<T extends Member = Member>(
    room: string,
    prefix: string,
    pageSize: number,
    firstPageSize = pageSize,
    projection = MEMBER_PROJECTION,
  ): AsyncGenerator<T[]> {
    let startKey: Record<string, unknown> | undefined;
    let limit = Math.min(firstPageSize, pageSize);
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: "#room = :room AND begins_with(#sk, :prefix)",
          FilterExpression: "#ttl > :now",
          ProjectionExpression: projection,
          ExpressionAttributeNames: {
            "#room": RoomTable.partitionKey,
            "#sk": RoomTable.sortKey,
            "#ttl": RoomTable.timeToLiveAttribute,
            "#name": "name",
          },
          ExpressionAttributeValues: { ":room": room, ":prefix": prefix, ":now": toEpochSeconds(this.clock()) },
          Limit: limit,
          ExclusiveStartKey: startKey,
          ConsistentRead: true,
        }),
      );
      limit = pageSize;
      startKey = page.LastEvaluatedKey;
      if (page.Items?.length) yield page.Items as T[];
    } while (startKey);
  }
}
