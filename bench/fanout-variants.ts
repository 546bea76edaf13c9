import {
  ApiGatewayManagementApiClient,
  DeleteConnectionCommand,
  PostToConnectionCommand,
} from "@aws-sdk/client-apigatewaymanagementapi";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { Broadcaster, DEFAULT_BROADCAST_CONCURRENCY, type Recipient } from "../core/broadcast.js";
import { systemClock, toEpochSeconds } from "../core/clock.js";
import type { ConnectionsApi } from "../core/connections-api.js";
import { createDocumentClient } from "../core/dynamodb-client.js";
import { Fanout } from "../core/fanout.js";
import { LOCAL_ENDPOINT_SETTINGS } from "../core/local-endpoint.js";
import { Logger } from "../core/logger.js";
import { createManagementClient, createManagementConnections } from "../core/management-client.js";
import type { MessageFrame } from "../core/protocol.js";
import { RoomStore } from "../core/room-store.js";
import { RoomTable, SortKey } from "../core/room-table.js";
import { HttpConnections } from "./http-connections.js";

/** The ways of broadcasting the fan-out section compares. */
export const FanoutVariant = {
  /**
   * This product, as `ChatService` sends to a room without fan-out workers: `RoomStore.members` pages into
   * `Fanout`/`Broadcaster`, over the management API client it deploys with (`createManagementConnections`).
   */
  Product: "product",
  /** The AWS sample: every page read into one array, then `Promise.all` of every send, on a default SDK client. */
  AwsSample: "aws-sample",
  /** Paged, one send at a time. */
  Sequential: "sequential",
  /** The product's broadcaster and store, posting with the SDK's `PostToConnectionCommand`, as the product once did. */
  SdkClient: "sdk-client",
  /** The product's broadcaster and store with unsigned `node:http` calls: the least client CPU a send can take. */
  BareHttp: "bare-http",
} as const;
export type FanoutVariant = (typeof FanoutVariant)[keyof typeof FanoutVariant];

export interface FanoutContext {
  dynamoEndpoint: string;
  /** The rooms table. */
  tableName: string;
  /** The room whose members get the broadcast. */
  room: string;
  /** Management API endpoint, `http://127.0.0.1:<port>/<stage>`. */
  managementEndpoint: string;
}

/** How a variant warms up: the same for every variant, so that each is measured as warm as the others. */
export interface WarmUp {
  /** Recipients of each previous message: the room's first ones. */
  recipients: number;
  /** Previous messages are sent until this (performance.now); at least one (the sequential loop: one send). */
  until: number;
}

/** A variant with its clients built (as a warm Lambda holds them), ready to broadcast. */
export interface PreparedFanout {
  /**
   * The previous messages to the same room, as a Lambda that has been serving the room has sent them: broadcasts,
   * the variant's own way, so that the measured one runs on code the JIT has optimised and on open sockets.
   */
  warmUp(warmUp: WarmUp): Promise<void>;
  /**
   * Broadcasts to everyone in the table; stops early (between sends) once `deadline` (performance.now) passes.
   * Calls `onSend` after every send that succeeded.
   */
  run(deadline: number, onSend: () => void): Promise<{ sends: number }>;
}

const quiet = new Logger({ sink: () => {} });

/** A chat frame of a typical size (~200 bytes), as the message handler serializes it. */
export const SAMPLE_FRAME = JSON.stringify({
  type: "message",
  room: "bench",
  id: "000000000042",
  sender: { userId: "user-0", name: "User 0" },
  text: "The quick brown fox jumps over the lazy dog. Lorem ipsum dolor sit amet, consectetur.",
  sentAt: "2026-01-01T00:00:00.000Z",
} satisfies MessageFrame);

export function prepareFanout(variant: FanoutVariant, context: FanoutContext): PreparedFanout {
  switch (variant) {
    case FanoutVariant.Product:
      return broadcasterVariant(context, createManagementConnections({ endpoint: context.managementEndpoint }));
    case FanoutVariant.SdkClient:
      return broadcasterVariant(context, sdkConnections(context.managementEndpoint));
    case FanoutVariant.BareHttp:
      return broadcasterVariant(
        context,
        new HttpConnections({ endpoint: context.managementEndpoint, maxSockets: DEFAULT_BROADCAST_CONCURRENCY }),
      );
    case FanoutVariant.AwsSample:
      return awsSampleVariant(context);
    case FanoutVariant.Sequential:
      return sequentialVariant(context);
  }
}

function broadcasterVariant(context: FanoutContext, connections: ConnectionsApi): PreparedFanout {
  let onSend = () => {};
  const api: ConnectionsApi = {
    post: async (connectionId, data) => {
      await connections.post(connectionId, data);
      onSend();
    },
    close: (connectionId) => connections.close(connectionId),
  };
  const rooms = new RoomStore(
    createDocumentClient({ endpoint: context.dynamoEndpoint }),
    context.tableName,
    systemClock,
  );
  const broadcaster = new Broadcaster(api, quiet);
  // No queue: this invocation sends to everyone, which is the broadcaster's own limit.
  const fanout = new Fanout(broadcaster, undefined, quiet);
  const broadcast = (recipients: AsyncIterable<readonly Recipient[]>) =>
    fanout.send({
      recipients,
      data: SAMPLE_FRAME,
      expiredAt: toEpochSeconds(systemClock()),
      // The stub never answers 410; ChatService would forget the connection here.
      onGone: async () => {},
      onExpired: (recipient) => api.close(recipient.connectionId),
    });
  return {
    async warmUp({ recipients, until }) {
      do await broadcast(firstOf(rooms.members(context.room), recipients));
      while (performance.now() < until);
    },
    async run(_deadline, sent) {
      onSend = sent;
      return { sends: (await broadcast(rooms.members(context.room))).delivered };
    },
  };
}

/**
 * The "simple-websockets-chat-app" sample's sendmessage handler, ported to SDK v3 as its v3 edition has it, and to
 * this product's rooms table: a client with the SDK's defaults (a pool of 50 sockets, 3 attempts), every page of the
 * room's members (`connectionId` only; DynamoDB stops a page at 1 MB) read into one array first, as the sample's one
 * unpaged Scan would have it, then every send started at once. Its 410 check is kept as written
 * (`statusCode === 410`, which v3 errors never have; FACTS.md), though the stub never answers 410.
 */
function awsSampleVariant(context: FanoutContext): PreparedFanout {
  const ddb = DynamoDBDocumentClient.from(
    new DynamoDBClient({ endpoint: context.dynamoEndpoint, ...LOCAL_ENDPOINT_SETTINGS }),
  );
  const api = new ApiGatewayManagementApiClient({ endpoint: context.managementEndpoint, ...LOCAL_ENDPOINT_SETTINGS });
  let onSend = () => {};
  const post = async (connectionId: string) => {
    try {
      await api.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: SAMPLE_FRAME }));
      onSend();
    } catch (e) {
      // The sample deletes the connection's record here; as written, it never gets here on SDK v3.
      if ((e as { statusCode?: number }).statusCode !== 410) throw e;
    }
  };
  const query = (startKey: Record<string, unknown> | undefined, limit?: number) =>
    ddb.send(
      new QueryCommand({
        TableName: context.tableName,
        KeyConditionExpression: "#room = :room AND begins_with(#sk, :members)",
        ExpressionAttributeNames: { "#room": RoomTable.partitionKey, "#sk": RoomTable.sortKey },
        ExpressionAttributeValues: { ":room": context.room, ":members": SortKey.anyMember },
        ProjectionExpression: "connectionId",
        ExclusiveStartKey: startKey,
        Limit: limit,
      }),
    );
  const readAll = async () => {
    const items: Record<string, unknown>[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await query(startKey);
      for (const item of page.Items ?? []) items.push(item);
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return items;
  };
  return {
    async warmUp({ recipients, until }) {
      do {
        const items: Record<string, unknown>[] = [];
        for (let startKey: Record<string, unknown> | undefined, more = true; more && items.length < recipients; ) {
          const page = await query(startKey, recipients - items.length);
          items.push(...(page.Items ?? []));
          startKey = page.LastEvaluatedKey;
          more = startKey !== undefined;
        }
        await Promise.all(items.map(({ connectionId }) => post(connectionId as string)));
      } while (performance.now() < until);
    },
    async run(_deadline, sent) {
      onSend = sent;
      const items = await readAll();
      await Promise.all(items.map(({ connectionId }) => post(connectionId as string)));
      return { sends: items.length };
    },
  };
}

/** The product's store and client, one send at a time. */
function sequentialVariant(context: FanoutContext): PreparedFanout {
  const rooms = new RoomStore(
    createDocumentClient({ endpoint: context.dynamoEndpoint }),
    context.tableName,
    systemClock,
  );
  const api = createManagementConnections({ endpoint: context.managementEndpoint });
  return {
    async warmUp({ recipients, until }) {
      // One at a time, as it sends. It stops when the time is up, even mid-message: one message to 1,000 takes 20 s.
      do {
        for await (const page of firstOf(rooms.members(context.room), recipients)) {
          for (const { connectionId } of page) {
            await api.post(connectionId, SAMPLE_FRAME);
            if (performance.now() >= until) return;
          }
        }
      } while (performance.now() < until);
    },
    async run(deadline, sent) {
      let sends = 0;
      for await (const page of rooms.members(context.room)) {
        for (const { connectionId } of page) {
          if (performance.now() > deadline) return { sends };
          await api.post(connectionId, SAMPLE_FRAME);
          sends++;
          sent();
        }
      }
      return { sends };
    },
  };
}

/** Every call through the SDK client, sized and configured as the product's. */
function sdkConnections(endpoint: string): ConnectionsApi {
  const client = createManagementClient({ endpoint });
  const encoder = new TextEncoder();
  return {
    post: async (connectionId, data) => {
      await client.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: encoder.encode(data) }));
    },
    close: async (connectionId) => {
      await client.send(new DeleteConnectionCommand({ ConnectionId: connectionId }));
    },
  };
}

/** The first `count` of the pages' items, as pages. */
async function* firstOf<T>(pages: AsyncIterable<readonly T[]>, count: number): AsyncGenerator<readonly T[]> {
  let left = count;
  for await (const page of pages) {
    if (left <= 0) return;
    yield page.length > left ? page.slice(0, left) : page;
    left -= page.length;
  }
}
