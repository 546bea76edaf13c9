import type { RemovalPolicy } from "aws-cdk-lib";
import { AttributeType, Table } from "aws-cdk-lib/aws-dynamodb";
import type { Grant, IGrantable } from "aws-cdk-lib/aws-iam";
import { Construct } from "constructs";
import { ConnectionTable } from "../core/connection-table.js";
import { chatTableSettings } from "./chat-table-settings.js";

/** Properties of a `ConnectionsTable`. */
export interface ConnectionsTableProps {
  /**
   * What happens to the table when it leaves the stack. Records live at most a few hours, but they name users, so
   * deleting them is left to a deliberate choice.
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The open WebSocket connections: one item per connection, keyed and expired as `core/connection-table.ts` says.
 * On-demand billing, point-in-time recovery, encrypted with the AWS managed key.
 */
export class ConnectionsTable extends Construct {
  readonly table: Table;

  constructor(scope: Construct, id: string, props: ConnectionsTableProps = {}) {
    super(scope, id);
    this.table = new Table(this, "Table", {
      partitionKey: { name: ConnectionTable.partitionKey, type: AttributeType.STRING },
      timeToLiveAttribute: ConnectionTable.timeToLiveAttribute,
      ...chatTableSettings(props.removalPolicy),
    });
  }

  get tableName(): string {
    return this.table.tableName;
  }

  /** Lets `grantee` store a connection (`$connect`). */
  grantPutConnection(grantee: IGrantable): Grant {
    return this.table.grants.actions(grantee, "dynamodb:PutItem");
  }

  /** Lets `grantee` delete a connection (`$disconnect`, or a send that found it gone). */
  grantDeleteConnection(grantee: IGrantable): Grant {
    return this.table.grants.actions(grantee, "dynamodb:DeleteItem");
  }

  /**
   * Lets `grantee` update a connection: extend its session (`refresh`), store its rate-limit bucket, note the rooms
   * it joins and leaves.
   */
  grantUpdateConnection(grantee: IGrantable): Grant {
    return this.table.grants.actions(grantee, "dynamodb:UpdateItem");
  }

  /**
   * Lets `grantee` read one connection by its id (a consistent `GetItem`). Nothing reads the whole table: a room's
   * members are a Query on the rooms table.
   */
  grantReadConnection(grantee: IGrantable): Grant {
    return this.table.grants.actions(grantee, "dynamodb:GetItem");
  }
}
