import { fileURLToPath } from "node:url";
import { Annotations, CfnOutput, Duration, Stack, type StackProps } from "aws-cdk-lib";
import type { ISource } from "aws-cdk-lib/aws-s3-deployment";
import type { Construct } from "constructs";
import { EnvVar } from "../core/env.js";
import { ChatAuthApi } from "./chat-auth-api.js";
import { type ChatConfig, resolveChatConfig } from "./chat-config.js";
import { ChatFunction, MAX_INTEGRATION_TIMEOUT } from "./chat-function.js";
import { ChatSite, webPageSource } from "./chat-site.js";
import { ChatWebSocketApi } from "./chat-websocket-api.js";
import { ConnectionsTable } from "./connection-table.js";
import { FanoutWorkers } from "./fanout-workers.js";
import { RoomsTable } from "./room-table.js";

const entry = (name: string) => fileURLToPath(new URL(`../lambdas/${name}.ts`, import.meta.url));

/** Properties of a `ChatStack`. */
export interface ChatStackProps extends StackProps {
  /**
   * Settings from outside.
   *
   * @default - read from CDK context by `resolveChatConfig`
   */
  readonly config?: ChatConfig;

  /**
   * The built page.
   *
   * @default - `webPageSource()`: web/build.ts, run at synth
   */
  readonly webContent?: ISource;
}

/**
 * The whole chat: connections and rooms tables, handlers, WebSocket API, fan-out workers, the page on CloudFront
 * and, unless tokens come from an existing SuperTokens backend, the SuperTokens backend at `<site>/auth`. Wiring
 * only; each part is its own construct.
 */
export class ChatStack extends Stack {
  readonly connections: ConnectionsTable;
  readonly rooms: RoomsTable;
  readonly handlers: {
    readonly authorizer: ChatFunction;
    readonly connect: ChatFunction;
    readonly disconnect: ChatFunction;
    readonly message: ChatFunction;
  };
  readonly webSocket: ChatWebSocketApi;
  readonly fanout: FanoutWorkers;
  readonly site: ChatSite;
  /** Present when the stack runs the SuperTokens backend (`supertokensConnectionUri`). */
  readonly authApi?: ChatAuthApi;

  constructor(scope: Construct, id: string, props: ChatStackProps = {}) {
    super(scope, id, props);
    const config = props.config ?? resolveChatConfig((key) => this.node.tryGetContext(key));
    for (const warning of config.warnings) Annotations.of(this).addWarningV2("chat:config", warning);
    const { auth } = config;

    if (auth.kind === "supertokens") {
      this.authApi = new ChatAuthApi(this, "Auth", {
        connectionUri: auth.connectionUri,
        apiKeyParameterName: auth.apiKeyParameter,
        appName: config.appName,
      });
    }
    this.site = new ChatSite(this, "Site", {
      content: props.webContent ?? webPageSource(),
      authApi: this.authApi && { domainName: this.authApi.domainName, basePath: ChatAuthApi.BASE_PATH },
    });
    // With the backend here, tokens are issued by the site's own origin (SuperTokens' iss is apiDomain + base path).
    // The function learns that origin from a parameter written after the distribution exists, not from its
    // environment, which would make a cycle: function -> distribution -> HTTP API -> function.
    this.authApi?.setSiteOrigin(this.site.origin);
    const issuer = auth.kind === "supertokens" ? `${this.site.origin}${ChatAuthApi.BASE_PATH}` : auth.issuer;
    const tokens = {
      [EnvVar.JwksUri]: auth.kind === "supertokens" ? `${issuer}/jwt/jwks.json` : auth.jwksUri,
      [EnvVar.Issuer]: issuer,
    };

    this.connections = new ConnectionsTable(this, "Connections");
    this.rooms = new RoomsTable(this, "Rooms");
    const tables = {
      [EnvVar.TableName]: this.connections.tableName,
      [EnvVar.RoomsTableName]: this.rooms.tableName,
    };
    const fanoutSettings = { [EnvVar.FanoutBatchSize]: String(config.fanoutBatchSize) };
    this.handlers = {
      authorizer: new ChatFunction(this, "Authorizer", {
        entry: entry("authorizer"),
        description: "Chat: verifies the SuperTokens access token on $connect",
        // Runs on every $connect before the socket opens. Two JWKS fetches (aws-jwt-verify retries once) of
        // JWKS_RESPONSE_TIMEOUT_MS each fit, so a slow JWKS ends in a refusal, never a Lambda timeout.
        timeout: Duration.seconds(8),
        environment: tokens,
      }),
      connect: new ChatFunction(this, "Connect", {
        entry: entry("connect"),
        description: "Chat: stores the connection and its lobby membership ($connect)",
        environment: tables,
      }),
      disconnect: new ChatFunction(this, "Disconnect", {
        entry: entry("disconnect"),
        description: "Chat: forgets the connection and tells its rooms when its user left ($disconnect)",
        // Telling up to 20 rooms that a user left is a broadcast each, as large as a message's.
        memorySize: 512,
        timeout: MAX_INTEGRATION_TIMEOUT,
        environment: { ...tables, ...fanoutSettings },
      }),
      message: new ChatFunction(this, "Message", {
        entry: entry("message"),
        description: "Chat: handles client frames (sendmessage, join, leave, history, refresh, $default)",
        // Broadcasting to many connections: more memory buys more CPU and network.
        memorySize: 512,
        timeout: MAX_INTEGRATION_TIMEOUT,
        environment: {
          ...tables,
          // `refresh` verifies a new token exactly as the authorizer does.
          ...tokens,
          ...fanoutSettings,
          [EnvVar.MessageBurst]: String(config.rateLimit.burst),
          [EnvVar.MessagesPerSecond]: String(config.rateLimit.perSecond),
          [EnvVar.HistoryDays]: String(config.historyDays),
        },
      }),
    };
    const { authorizer, connect, disconnect, message } = this.handlers;

    this.webSocket = new ChatWebSocketApi(this, "WebSocket", {
      authorizerHandler: authorizer.function,
      connectHandler: connect.function,
      disconnectHandler: disconnect.function,
      messageHandler: message.function,
      tokenTransport: config.tokenTransport,
      stageName: config.stageName,
      throttle: config.stageThrottle,
      apiGatewayCloudWatchRole: config.apiGatewayCloudWatchRole,
    });
    this.fanout = new FanoutWorkers(this, "Fanout", {
      environment: { ...tables, ...fanoutSettings },
      maxConcurrency: config.fanoutMaxWorkers,
      // Failed batches hold message text: not kept past the history.
      deadLetterRetention: Duration.days(Math.min(14, config.historyDays)),
    });

    // The authorizer touches no table. $connect stores the connection and puts it in the lobby.
    this.connections.grantPutConnection(connect.function);
    this.rooms.grantPutItems(connect.function);
    // Whatever runs the chat service may broadcast (presence, messages) and so find connections gone: it reads a
    // connection, takes it out of its rooms, takes a presence version, asks who is left, tells them, and deletes
    // it. Large rooms fan out through the queue, the workers' own announcements included.
    for (const sender of [disconnect, message, this.fanout.worker]) {
      this.connections.grantReadConnection(sender.function);
      this.connections.grantDeleteConnection(sender.function);
      this.rooms.grantDeleteMembers(sender.function);
      this.rooms.grantUpdateItems(sender.function);
      this.rooms.grantQueryRooms(sender.function);
      this.webSocket.grantManageConnections(sender.function);
      this.fanout.grantEnqueue(sender.function);
      sender.function.addEnvironment(EnvVar.CallbackUrl, this.webSocket.callbackUrl);
      sender.function.addEnvironment(EnvVar.FanoutQueueUrl, this.fanout.queue.queueUrl);
    }
    // Client frames: the rate-limit bucket, rooms joined and left, refreshed sessions; memberships, numbered and
    // stored messages.
    this.connections.grantUpdateConnection(message.function);
    this.rooms.grantPutItems(message.function);

    this.site.deployConfig({
      webSocketUrl: this.webSocket.url,
      tokenTransport: config.tokenTransport,
      auth: {
        mode: "supertokens",
        // The page signs in where tokens are issued: its own origin, or the existing backend's (cross-origin).
        apiDomain: auth.kind === "supertokens" ? this.site.origin : new URL(auth.issuer).origin,
        apiBasePath: auth.kind === "supertokens" ? ChatAuthApi.BASE_PATH : new URL(auth.issuer).pathname,
      },
      appName: config.appName,
      rateLimit: config.rateLimit,
    });

    new CfnOutput(this, "SiteUrl", { description: "Open this in a browser", value: this.site.url });
    new CfnOutput(this, "WebSocketUrl", { description: "Clients connect here", value: this.webSocket.url });
    new CfnOutput(this, "CallbackUrl", {
      description: "Management (@connections) endpoint",
      value: this.webSocket.callbackUrl,
    });
    new CfnOutput(this, "ConnectionsTableName", { value: this.connections.tableName });
    new CfnOutput(this, "RoomsTableName", {
      description: "Room memberships, message history and counters",
      value: this.rooms.tableName,
    });
    new CfnOutput(this, "FanoutDeadLetterQueueUrl", {
      description: "Broadcast batches that failed three times",
      value: this.fanout.deadLetterQueue.queueUrl,
    });
  }
}
