import type { RemovalPolicy } from "aws-cdk-lib";
import { AttributeType, Table } from "aws-cdk-lib/aws-dynamodb";
import type { Grant, IGrantable } from "aws-cdk-lib/aws-iam";
import { Construct } from "constructs";
import { RoomTable } from "../core/room-table.js";
import { chatTableSettings } from "./chat-table-settings.js";

/** Properties of a `RoomsTable`. */
export interface RoomsTableProps {
  /**
   * What happens to the table when it leaves the stack. It holds the chat history, so deleting it is left to a
   * deliberate choice.
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The rooms: one partition per room holding its members, its messages (expired by TTL after the stack's
 * `historyDays`) and its message counter, keyed as `core/room-table.ts` says, so that everything about a room is a
 * Query on it. On-demand billing, point-in-time recovery, encrypted with the AWS managed key.
 *
 * Each grant is one DynamoDB action on this table alone (there are no indexes): IAM cannot tell a membership from a
 * message within a partition, so the grants follow the actions, and their names say who needs them.
 */
export class RoomsTable extends Construct {
  readonly table: Table;

  constructor(scope: Construct, id: string, props: RoomsTableProps = {}) {
    super(scope, id);
    this.table = new Table(this, "Table", {
      partitionKey: { name: RoomTable.partitionKey, type: AttributeType.STRING },
      sortKey: { name: RoomTable.sortKey, type: AttributeType.STRING },
      timeToLiveAttribute: RoomTable.timeToLiveAttribute,
      ...chatTableSettings(props.removalPolicy),
    });
  }

  get tableName(): string {
    return this.table.tableName;
  }

  /** Lets `grantee` put a new connection in a room (`$connect`'s lobby) and store messages (`sendmessage`). */
  grantPutItems(grantee: IGrantable): Grant {
    return this.table.grants.actions(grantee, "dynamodb:PutItem");
  }

  /**
   * Lets `grantee` take a connection out of a room (`leave`, `$disconnect`, a send that found it gone). Memberships
   * are the only items ever deleted: messages expire by TTL, counters stay.
   */
  grantDeleteMembers(grantee: IGrantable): Grant {
    return this.table.grants.actions(grantee, "dynamodb:DeleteItem");
  }

  /**
   * Lets `grantee` join a connection to a room (keeping when it first joined), number a room's messages and its
   * changes of presence (the counters' `ADD`), and carry a refreshed session onto memberships.
   */
  grantUpdateItems(grantee: IGrantable): Grant {
    return this.table.grants.actions(grantee, "dynamodb:UpdateItem");
  }

  /** Lets `grantee` read a room's members, presence and history: a Query on the room's partition, never a Scan. */
  grantQueryRooms(grantee: IGrantable): Grant {
    return this.table.grants.actions(grantee, "dynamodb:Query");
  }
}
