import type { ChatUser, MessageFrame } from "./protocol.js";

/**
 * The rooms table, one partition per room holding members, messages and two counters, so that everything about a
 * room is read by key or with a Query on the room (never a Scan):
 *
 * | sort key                          | item                                              |
 * | --------------------------------- | ------------------------------------------------- |
 * | `member#<userId>#<connectionId>`  | a connection in the room (fan-out and presence)   |
 * | `message#<id>`                    | a stored message (history), expires by TTL        |
 * | `#counter`                        | the last message sequence number given out        |
 * | `#presence`                       | the last presence version given out               |
 *
 * Members sort by user, so "is this user still here" is a Query on `member#<userId>#`.
 */
export const RoomTable = {
  partitionKey: "room",
  sortKey: "sk",
  timeToLiveAttribute: "ttl",
} as const;

export const SortKey = {
  member: (userId: string, connectionId: string) => `member#${userId}#${connectionId}`,
  membersOf: (userId: string) => `member#${userId}#`,
  anyMember: "member#",
  message: (id: string) => `message#${id}`,
  anyMessage: "message#",
  counter: "#counter",
  presence: "#presence",
} as const;

export interface MemberItem extends ChatUser {
  room: string;
  sk: string;
  connectionId: string;
  /** The connection's session end, epoch seconds: broadcasts close connections past it. */
  expiresAt: number;
  /** The connection record's TTL. */
  ttl: number;
  /**
   * When the connection first sent `join` for the room, epoch ms: the user's first connection there announces them.
   * Absent until then (`$connect` puts every connection in the lobby before its page joins it).
   */
  joinedAt?: number;
}

export interface MessageItem extends MessageFrame {
  sk: string;
  ttl: number;
}

/** DynamoDB `CreateTable` input for the table, for the sandbox and the tests. */
export function roomTableCreateInput(tableName: string) {
  return {
    TableName: tableName,
    BillingMode: "PAY_PER_REQUEST" as const,
    AttributeDefinitions: [
      { AttributeName: RoomTable.partitionKey, AttributeType: "S" as const },
      { AttributeName: RoomTable.sortKey, AttributeType: "S" as const },
    ],
    KeySchema: [
      { AttributeName: RoomTable.partitionKey, KeyType: "HASH" as const },
      { AttributeName: RoomTable.sortKey, KeyType: "RANGE" as const },
    ],
  };
}
