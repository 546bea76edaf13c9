import { fileURLToPath } from "node:url";
import { Annotations, CfnOutput, Duration, Stack, type StackProps } from "aws-cdk-lib";
import type { Construct } from "constructs";
import { EnvVar } from "../core/env.js";
import { type ChatConfig, resolveChatConfig } from "./chat-config.js";
import { ChatFunction, MAX_INTEGRATION_TIMEOUT } from "./chat-function.js";
import { ChatWebSocketApi } from "./chat-websocket-api.js";
import { ConnectionsTable } from "./connection-table.js";

const entry = (name: string) => fileURLToPath(new URL(`../lambdas/${name}.ts`, import.meta.url));

/** Properties of a `ChatStack`. */
export interface ChatStackProps extends StackProps {
  /**
   * Settings from outside.
   *
   * @default - read from CDK context by `resolveChatConfig`
   */
  readonly config?: ChatConfig;
}

/** The whole chat: connections table, handlers and WebSocket API. Wiring only; each part is its own construct. */
export class ChatStack extends Stack {
  readonly connections: ConnectionsTable;
  readonly handlers: {
    readonly authorizer: ChatFunction;
    readonly connect: ChatFunction;
    readonly disconnect: ChatFunction;
    readonly message: ChatFunction;
  };
  readonly webSocket: ChatWebSocketApi;

  constructor(scope: Construct, id: string, props: ChatStackProps = {}) {
    super(scope, id, props);
    const config = props.config ?? resolveChatConfig((key) => this.node.tryGetContext(key));
    for (const warning of config.warnings) Annotations.of(this).addWarningV2("chat:config", warning);

    this.connections = new ConnectionsTable(this, "Connections");
    const table = { [EnvVar.TableName]: this.connections.tableName };
    this.handlers = {
      authorizer: new ChatFunction(this, "Authorizer", {
        entry: entry("authorizer"),
        description: "Chat: verifies the SuperTokens access token on $connect",
        // Runs on every $connect before the socket opens; a JWKS fetch on a cold start fits well within this.
        timeout: Duration.seconds(5),
        environment: { [EnvVar.JwksUri]: config.auth.jwksUri, [EnvVar.Issuer]: config.auth.issuer },
      }),
      connect: new ChatFunction(this, "Connect", {
        entry: entry("connect"),
        description: "Chat: stores the connection ($connect)",
        environment: table,
      }),
      disconnect: new ChatFunction(this, "Disconnect", {
        entry: entry("disconnect"),
        description: "Chat: deletes the connection ($disconnect)",
        environment: table,
      }),
      message: new ChatFunction(this, "Message", {
        entry: entry("message"),
        description: "Chat: handles client frames (sendmessage and the other actions, $default)",
        // Broadcasting to many connections: more memory buys more CPU and network.
        memorySize: 512,
        timeout: MAX_INTEGRATION_TIMEOUT,
        environment: table,
      }),
    };
    const { authorizer, connect, disconnect, message } = this.handlers;
    this.connections.grantPutConnection(connect.function);
    this.connections.grantDeleteConnection(disconnect.function);
    this.connections.grantReadConnections(message.function);
    this.connections.grantDeleteConnection(message.function);

    this.webSocket = new ChatWebSocketApi(this, "WebSocket", {
      authorizerHandler: authorizer.function,
      connectHandler: connect.function,
      disconnectHandler: disconnect.function,
      messageHandler: message.function,
      stageName: config.stageName,
      apiGatewayCloudWatchRole: config.apiGatewayCloudWatchRole,
    });
    message.function.addEnvironment(EnvVar.CallbackUrl, this.webSocket.callbackUrl);
    this.webSocket.grantManageConnections(message.function);

    new CfnOutput(this, "WebSocketUrl", { description: "Clients connect here", value: this.webSocket.url });
    new CfnOutput(this, "CallbackUrl", {
      description: "Management (@connections) endpoint",
      value: this.webSocket.callbackUrl,
    });
    new CfnOutput(this, "ConnectionsTableName", { value: this.connections.tableName });
  }
}
