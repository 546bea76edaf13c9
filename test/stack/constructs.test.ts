import { fileURLToPath } from "node:url";
import { Duration, Lazy, RemovalPolicy, type Stack } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import { Role, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { Code, Function as LambdaFunction, Runtime } from "aws-cdk-lib/aws-lambda";
import { RetentionDays } from "aws-cdk-lib/aws-logs";
import { Source } from "aws-cdk-lib/aws-s3-deployment";
import { describe, expect, it } from "vitest";
import { TOKEN_IDENTITY_SOURCES } from "../../core/protocol.js";
import { RoomTable } from "../../core/room-table.js";
import type { SiteConfig } from "../../core/site-config.js";
import { ChatAuthApi } from "../../lib/chat-auth-api.js";
import { ChatFunction, type ChatFunctionProps } from "../../lib/chat-function.js";
import { ChatSite } from "../../lib/chat-site.js";
import { ChatWebSocketApi, type ChatWebSocketApiProps } from "../../lib/chat-websocket-api.js";
import { ConnectionsTable } from "../../lib/connection-table.js";
import { FanoutWorkers } from "../../lib/fanout-workers.js";
import { RoomsTable } from "../../lib/room-table.js";
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

  it("reads the token from the subprotocol header when tokenTransport says so", () => {
    const stack = emptyStack();
    chatApi(stack, { tokenTransport: "subprotocol" });
    Template.fromStack(stack).hasResourceProperties("AWS::ApiGatewayV2::Authorizer", {
      IdentitySource: [TOKEN_IDENTITY_SOURCES.subprotocol],
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
    table.grantReadConnection(role("Read"));
    table.grantUpdateConnection(role("Update"));
    const template = Template.fromStack(stack);
    const arn = [{ "Fn::GetAtt": [logicalId(table.table), "Arn"] }];
    for (const Action of ["dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:UpdateItem"]) {
      template.hasResourceProperties("AWS::IAM::Policy", {
        PolicyDocument: { Statement: [{ Action, Effect: "Allow", Resource: arn }] },
      });
    }
    template.resourceCountIs("AWS::IAM::Policy", 4);
  });
});

describe("RoomsTable", () => {
  it("is keyed by room and sort key, expires by ttl, and is retained by default, removable on request", () => {
    const stack = emptyStack();
    new RoomsTable(stack, "Table");
    Template.fromStack(stack).hasResource("AWS::DynamoDB::Table", {
      DeletionPolicy: "Retain",
      Properties: {
        KeySchema: [
          { AttributeName: RoomTable.partitionKey, KeyType: "HASH" },
          { AttributeName: RoomTable.sortKey, KeyType: "RANGE" },
        ],
        TimeToLiveSpecification: { AttributeName: RoomTable.timeToLiveAttribute, Enabled: true },
      },
    });
    const destroyed = emptyStack();
    new RoomsTable(destroyed, "Table", { removalPolicy: RemovalPolicy.DESTROY });
    Template.fromStack(destroyed).hasResource("AWS::DynamoDB::Table", { DeletionPolicy: "Delete" });
  });

  it("grants one action each, on the table alone", () => {
    const stack = emptyStack();
    const table = new RoomsTable(stack, "Table");
    const role = (id: string) => new Role(stack, id, { assumedBy: new ServicePrincipal("lambda.amazonaws.com") });
    table.grantPutItems(role("Put"));
    table.grantDeleteMembers(role("Delete"));
    table.grantUpdateItems(role("Update"));
    table.grantQueryRooms(role("Query"));
    const template = Template.fromStack(stack);
    const arn = [{ "Fn::GetAtt": [logicalId(table.table), "Arn"] }];
    for (const Action of ["dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:UpdateItem", "dynamodb:Query"]) {
      template.hasResourceProperties("AWS::IAM::Policy", {
        PolicyDocument: { Statement: [{ Action, Effect: "Allow", Resource: arn }] },
      });
    }
    template.resourceCountIs("AWS::IAM::Policy", 4);
  });
});

describe("ChatAuthApi", () => {
  const authApi = (stack: Stack, props: Partial<ConstructorParameters<typeof ChatAuthApi>[2]> = {}) =>
    new ChatAuthApi(stack, "Auth", { connectionUri: "https://try.supertokens.com", ...props });

  it("may read the site origin parameter only, when the core needs no API key", () => {
    const stack = emptyStack();
    authApi(stack).setSiteOrigin("https://d111111abcdef8.cloudfront.net");
    const template = Template.fromStack(stack);
    template.hasResourceProperties("AWS::IAM::Policy", {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: "ssm:GetParameters",
            Resource: { "Fn::Join": ["", Match.arrayWith([":parameter/Test/site-origin"])] },
          }),
        ]),
      },
    });
    template.hasResourceProperties("AWS::SSM::Parameter", {
      Name: "/Test/site-origin",
      Value: "https://d111111abcdef8.cloudfront.net",
    });
    template.hasResourceProperties("AWS::Lambda::Function", {
      Environment: { Variables: Match.objectLike({ SUPERTOKENS_API_KEY_PARAMETER: Match.absent() }) },
    });
  });

  it("takes a parameter name and throttling from props, and refuses a name that is a reference", () => {
    const stack = emptyStack();
    authApi(stack, { siteOriginParameterName: "/my/origin", throttle: { burstLimit: 5 } }).setSiteOrigin("x");
    const template = Template.fromStack(stack);
    template.hasResourceProperties("AWS::SSM::Parameter", { Name: "/my/origin" });
    template.hasResourceProperties("AWS::ApiGatewayV2::Stage", {
      DefaultRouteSettings: { ThrottlingRateLimit: 25, ThrottlingBurstLimit: 5 },
    });
    const custom = emptyStack();
    authApi(custom, { sessionThrottle: { rateLimit: 300 } }).setSiteOrigin("x");
    Template.fromStack(custom).hasResourceProperties("AWS::ApiGatewayV2::Stage", {
      RouteSettings: {
        "POST /auth/session/refresh": { ThrottlingRateLimit: 300, ThrottlingBurstLimit: 200 },
        "GET /auth/jwt/jwks.json": { ThrottlingRateLimit: 300, ThrottlingBurstLimit: 200 },
      },
    });
    const late = Lazy.string({ produce: () => "/late" });
    expect(() => authApi(emptyStack(), { siteOriginParameterName: late })).toThrow(
      /^siteOriginParameterName must be a literal/,
    );
  });

  it("fails synth until setSiteOrigin is called, and takes it once", () => {
    const stack = emptyStack();
    const api = authApi(stack);
    expect(() => Template.fromStack(stack)).toThrow(/setSiteOrigin\(\) was never called/);
    api.setSiteOrigin("https://example.com");
    expect(() => api.setSiteOrigin("https://example.com")).toThrow(/already called/);
  });
});

describe("ChatSite", () => {
  const site = (stack: Stack) => new ChatSite(stack, "Site", { content: Source.data("index.html", "<!doctype html>") });
  const config: SiteConfig = {
    webSocketUrl: "wss://example.com/prod",
    tokenTransport: "query",
    auth: { mode: "supertokens", apiDomain: "https://api.example.com", apiBasePath: "/auth" },
    appName: "Chat",
    rateLimit: { burst: 10, perSecond: 2 },
  };

  it("serves only the page without an auth API", () => {
    const stack = emptyStack();
    site(stack).deployConfig(config);
    Template.fromStack(stack).hasResourceProperties("AWS::CloudFront::Distribution", {
      DistributionConfig: {
        CacheBehaviors: Match.absent(),
        Origins: [Match.objectLike({ S3OriginConfig: Match.anyValue() })],
      },
    });
  });

  it("fails synth until deployConfig is called, and takes it once", () => {
    const stack = emptyStack();
    const page = site(stack);
    expect(() => Template.fromStack(stack)).toThrow(/deployConfig\(\) was never called/);
    page.deployConfig(config);
    expect(() => page.deployConfig(config)).toThrow(/already called/);
  });
});

describe("FanoutWorkers", () => {
  const workers = (stack: Stack, props: Partial<ConstructorParameters<typeof FanoutWorkers>[2]> = {}) =>
    new FanoutWorkers(stack, "Fanout", { environment: {}, ...props });

  it("hides a batch for six times the worker's timeout, and takes up to 10 batches an invocation", () => {
    const stack = emptyStack();
    workers(stack, { timeout: Duration.seconds(20), batchSize: 10 });
    const template = Template.fromStack(stack);
    template.hasResourceProperties("AWS::SQS::Queue", { VisibilityTimeout: 120 });
    template.hasResourceProperties("AWS::Lambda::EventSourceMapping", { BatchSize: 10 });
  });

  it("validates batchSize, naming the prop", () => {
    for (const batchSize of [0, 11, 1.5]) {
      expect(() => workers(emptyStack(), { batchSize })).toThrow(/^batchSize must be a whole number from 1 to 10/);
    }
  });

  it("lets a grantee send to the queue only", () => {
    const stack = emptyStack();
    const fanout = workers(stack);
    fanout.grantEnqueue(new Role(stack, "Sender", { assumedBy: new ServicePrincipal("lambda.amazonaws.com") }));
    Template.fromStack(stack).hasResourceProperties("AWS::IAM::Policy", {
      PolicyDocument: {
        Statement: [
          {
            Action: "sqs:SendMessage",
            Effect: "Allow",
            Resource: { "Fn::GetAtt": [logicalId(fanout.queue), "Arn"] },
          },
        ],
      },
    });
  });
});
