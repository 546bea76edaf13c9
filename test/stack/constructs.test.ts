import { fileURLToPath } from "node:url";
import { Duration, Lazy, RemovalPolicy, type Stack } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import { Role, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { Code, Function as LambdaFunction, Runtime } from "aws-cdk-lib/aws-lambda";
import { RetentionDays } from "aws-cdk-lib/aws-logs";
import { describe, expect, it } from "vitest";
import { ChatFunction, type ChatFunctionProps } from "../../lib/chat-function.js";
import { ChatWebSocketApi, type ChatWebSocketApiProps } from "../../lib/chat-websocket-api.js";
import { ConnectionsTable } from "../../lib/connection-table.js";
import { emptyStack, logicalId } from "./support.js";

const ENTRY = fileURLToPath(new URL("../../lambdas/connect.ts", import.meta.url));

function chatApi(stack: Stack, props: Partial<ChatWebSocketApiProps> = {}): ChatWebSocketApi {
  const fn = (id: string) =>
    new LambdaFunction(stack, id, {
      runtime: Runtime.NODEJS_24_X,
      handler: "index.handler",
      code: Code.fromInline("export const handler = async () => ({ statusCode: 200 });"),
    });
  return new ChatWebSocketApi(stack, "WebSocket", {
    authorizerHandler: fn("Authorizer"),
    connectHandler: fn("Connect"),
    disconnectHandler: fn("Disconnect"),
    messageHandler: fn("Message"),
    ...props,
  });
}

function chatFunction(props: Partial<ChatFunctionProps> = {}): ChatFunction {
  return new ChatFunction(emptyStack(), "Fn", { entry: ENTRY, ...props });
}

describe("ChatWebSocketApi", () => {
  it("validates stageName, naming the prop, and lets tokens through", () => {
    expect(() => chatApi(emptyStack(), { stageName: "prod v1" })).toThrow(/^stageName must be/);
    expect(() => chatApi(emptyStack(), { stageName: "" })).toThrow(/^stageName must be/);
    expect(() => chatApi(emptyStack(), { stageName: Lazy.string({ produce: () => "late" }) })).not.toThrow();
  });

  it("validates throttle, naming the field", () => {
    expect(() => chatApi(emptyStack(), { throttle: { rateLimit: 0 } })).toThrow(/^throttle\.rateLimit must be/);
    expect(() => chatApi(emptyStack(), { throttle: { burstLimit: 2.5 } })).toThrow(/^throttle\.burstLimit must be/);
  });

  it("takes each throttle field and the access log retention from props, the rest from defaults", () => {
    const stack = emptyStack();
    chatApi(stack, { throttle: { rateLimit: 20 }, accessLogRetention: RetentionDays.ONE_WEEK });
    const template = Template.fromStack(stack);
    template.hasResourceProperties("AWS::ApiGatewayV2::Stage", {
      DefaultRouteSettings: { ThrottlingRateLimit: 20, ThrottlingBurstLimit: 200 },
    });
    template.hasResourceProperties("AWS::Logs::LogGroup", { RetentionInDays: 7 });
  });

  it("grants ManageConnections on its own stage only, to any principal", () => {
    const stack = emptyStack();
    const api = chatApi(stack, { stageName: "dev" });
    api.grantManageConnections(new Role(stack, "Other", { assumedBy: new ServicePrincipal("lambda.amazonaws.com") }));
    Template.fromStack(stack).hasResourceProperties("AWS::IAM::Policy", {
      PolicyDocument: {
        Statement: [
          {
            Action: "execute-api:ManageConnections",
            Effect: "Allow",
            Resource: { "Fn::Join": ["", Match.arrayWith([{ Ref: logicalId(api.api) }, "/dev/*/@connections/*"])] },
          },
        ],
      },
    });
  });

  it("exposes the wss:// URL and the https:// callback URL of the stage", () => {
    const stack = emptyStack();
    const api = chatApi(stack);
    expect(JSON.stringify(stack.resolve(api.url))).toMatch(/"wss:\/\/".*"\/prod"/);
    expect(JSON.stringify(stack.resolve(api.callbackUrl))).toMatch(/"https:\/\/".*"\/prod"/);
  });
});

describe("ChatFunction", () => {
  it("has the house defaults", () => {
    const fn = chatFunction();
    const template = Template.fromStack(fn.function.stack);
    template.hasResourceProperties("AWS::Lambda::Function", {
      Runtime: "nodejs24.x",
      Architectures: ["arm64"],
      MemorySize: 256,
      Timeout: 10,
      Environment: { Variables: { LOG_LEVEL: "info", NODE_OPTIONS: "--enable-source-maps" } },
    });
    template.hasResourceProperties("AWS::Logs::LogGroup", { RetentionInDays: 30 });
  });

  it("validates memorySize and timeout, naming the prop", () => {
    expect(() => chatFunction({ memorySize: 64 })).toThrow(/^memorySize must be/);
    expect(() => chatFunction({ memorySize: 300.5 })).toThrow(/^memorySize must be/);
    expect(() => chatFunction({ timeout: Duration.millis(500) })).toThrow(/^timeout must be/);
    expect(() => chatFunction({ timeout: Duration.minutes(16) })).toThrow(/^timeout must be/);
  });
});

describe("ConnectionsTable", () => {
  it("is retained by default and removable on request", () => {
    const destroyed = emptyStack();
    new ConnectionsTable(destroyed, "Table", { removalPolicy: RemovalPolicy.DESTROY });
    Template.fromStack(destroyed).hasResource("AWS::DynamoDB::Table", { DeletionPolicy: "Delete" });
  });

  it("grants one purpose each, on the table alone", () => {
    const stack = emptyStack();
    const table = new ConnectionsTable(stack, "Table");
    const role = (id: string) => new Role(stack, id, { assumedBy: new ServicePrincipal("lambda.amazonaws.com") });
    table.grantPutConnection(role("Put"));
    table.grantDeleteConnection(role("Delete"));
    table.grantReadConnections(role("Read"));
    const template = Template.fromStack(stack);
    const arn = [{ "Fn::GetAtt": [logicalId(table.table), "Arn"] }];
    for (const Action of ["dynamodb:PutItem", "dynamodb:DeleteItem", ["dynamodb:GetItem", "dynamodb:Scan"]]) {
      template.hasResourceProperties("AWS::IAM::Policy", {
        PolicyDocument: { Statement: [{ Action, Effect: "Allow", Resource: arn }] },
      });
    }
  });
});
