import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import type { App } from "aws-cdk-lib";
import { Annotations, Match, Template } from "aws-cdk-lib/assertions";
import type { BucketDeployment } from "aws-cdk-lib/aws-s3-deployment";
import { AwsSolutionsChecks } from "cdk-nag";
import { beforeAll, describe, expect, it } from "vitest";
import { ConnectionTable } from "../../core/connection-table.js";
import { EnvVar } from "../../core/env.js";
import { JWKS_RESPONSE_TIMEOUT_MS } from "../../core/jwks-fetcher.js";
import { CLIENT_ACTIONS, ROUTE_SELECTION_EXPRESSION, RouteKey, TOKEN_IDENTITY_SOURCES } from "../../core/protocol.js";
import { RoomTable, roomTableCreateInput } from "../../core/room-table.js";
import { SuperTokensEnvVar } from "../../core/supertokens-backend.js";
import type { ChatFunction } from "../../lib/chat-function.js";
import type { ChatStack } from "../../lib/chat-stack.js";
import {
  API_KEY_PARAMETER,
  actionsOf,
  CONNECTION_URI,
  chatStack,
  DEMO_CORE_CONTEXT,
  envOf,
  findCycle,
  ISSUER,
  JWKS_URI,
  logicalId,
  type Resource,
  type Statement,
  SUPERTOKENS_CONTEXT,
  statementsOf,
  VALID_CONTEXT,
} from "./support.js";

type HandlerName = "authorizer" | "connect" | "disconnect" | "message" | "worker" | "auth";
type Ids = Record<HandlerName, { fn: string; role: string }>;

/** Managed policy ids, as CloudFront publishes them. */
const CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad";
const ALL_VIEWER_EXCEPT_HOST_HEADER = "b689b0a8-53d0-40ab-baf2-68738e2966ac";

/** Logical id of the function behind the route with `routeKey`. */
function functionOfRoute(template: Template, routeKey: string): string {
  const [route] = Object.values(
    template.findResources("AWS::ApiGatewayV2::Route", { Properties: { RouteKey: routeKey } }),
  );
  const integrationId = route?.Properties.Target["Fn::Join"][1][1].Ref as string;
  const integration = template.toJSON().Resources[integrationId] as Resource;
  return JSON.stringify(integration.Properties.IntegrationUri).match(/"Fn::GetAtt":\["(\w+)","Arn"\]/)?.[1] ?? "";
}

function handlerIds(stack: ChatStack): Ids {
  const handlers: [string, ChatFunction | undefined][] = [
    ...Object.entries(stack.handlers),
    ["worker", stack.fanout.worker],
    ["auth", stack.authApi?.handler],
  ];
  return Object.fromEntries(
    handlers.flatMap(([name, h]) => (h ? [[name, { fn: logicalId(h.function), role: logicalId(h.role) }]] : [])),
  ) as Ids;
}

/** `https://<the site's distribution domain><path>`, as the template writes it. */
const siteUrl = (stack: ChatStack, path = "") => ({
  "Fn::Join": [
    "",
    ["https://", { "Fn::GetAtt": [logicalId(stack.site.distribution), "DomainName"] }, ...(path ? [path] : [])],
  ],
});

/** Logical id of a `BucketDeployment`'s custom resource. */
const deploymentId = (deployment: BucketDeployment) => logicalId(deployment.node.findChild("CustomResource"));

// Two synthesized stacks shared by every test that only reads them, and the only two synthesized here but for the
// settings tests at the end:
// - `full`: mode (a), the SuperTokens backend in the stack, every other setting at its default; templates only
//   (no esbuild, a stand-in page).
// - `external`: mode (b), an existing backend, with every other setting changed from its default; bundled by the
//   real esbuild, with the real page build. The auth function, which only mode (a) has, is bundled and run by
//   test/auth/auth-api-bundle.test.ts, so it is not bundled twice.
let full: ChatStack;
let template: Template;
let ids: Ids;
let external: ChatStack;
let externalTemplate: Template;
let externalIds: Omit<Ids, "auth">;
beforeAll(() => {
  full = chatStack(SUPERTOKENS_CONTEXT);
  template = Template.fromStack(full);
  ids = handlerIds(full);
  external = chatStack(
    {
      ...VALID_CONTEXT,
      tokenTransport: "subprotocol",
      messageBurst: "20",
      messagesPerSecond: "0.5",
      fanoutBatchSize: "250",
      fanoutMaxWorkers: "40",
      historyDays: "7",
      appName: "Team chat",
      stageName: "beta",
      stageRateLimit: "2000",
      stageBurstLimit: "4000",
      apiGatewayCloudWatchRole: "false",
    },
    { bundle: true },
  );
  externalTemplate = Template.fromStack(external);
  externalIds = handlerIds(external);
}, 240_000);

describe("ChatStack: WebSocket API", () => {
  it("selects routes with the protocol's expression", () => {
    template.hasResourceProperties("AWS::ApiGatewayV2::Api", {
      ProtocolType: "WEBSOCKET",
      RouteSelectionExpression: ROUTE_SELECTION_EXPRESSION,
    });
  });

  it("guards $connect with a REQUEST authorizer reading the token where tokenTransport says", () => {
    const authorizers = template.findResources("AWS::ApiGatewayV2::Authorizer", {
      Properties: { AuthorizerType: "REQUEST", IdentitySource: ["route.request.querystring.token"] },
    });
    const [authorizerId] = Object.keys(authorizers);
    expect(Object.keys(authorizers)).toHaveLength(1);
    expect(JSON.stringify(authorizers[authorizerId ?? ""]?.Properties.AuthorizerUri)).toContain(
      `"${ids.authorizer.fn}"`,
    );
    template.hasResourceProperties("AWS::ApiGatewayV2::Route", {
      RouteKey: RouteKey.Connect,
      AuthorizationType: "CUSTOM",
      AuthorizerId: { Ref: authorizerId },
    });
    externalTemplate.hasResourceProperties("AWS::ApiGatewayV2::Authorizer", {
      IdentitySource: [TOKEN_IDENTITY_SOURCES.subprotocol],
    });
    expect(TOKEN_IDENTITY_SOURCES.subprotocol).toBe("route.request.header.Sec-WebSocket-Protocol");
  });

  it("has $connect, $disconnect, $default and a route per client action, each on its handler", () => {
    const routeKeys = Object.values(template.findResources("AWS::ApiGatewayV2::Route"))
      .map((route) => route.Properties.RouteKey)
      .filter((key) => !key.includes("/auth/"));
    expect(routeKeys.sort()).toEqual(Object.values(RouteKey).sort());
    // Every client action has its own route (rooms and history included); only the three $ routes are not actions.
    expect([...CLIENT_ACTIONS].sort()).toEqual(routeKeys.filter((key) => !key.startsWith("$")).sort());
    expect(CLIENT_ACTIONS).toEqual(expect.arrayContaining([RouteKey.Join, RouteKey.Leave, RouteKey.History]));
    expect(functionOfRoute(template, RouteKey.Connect)).toBe(ids.connect.fn);
    expect(functionOfRoute(template, RouteKey.Disconnect)).toBe(ids.disconnect.fn);
    for (const key of [RouteKey.Default, ...CLIENT_ACTIONS]) {
      expect(functionOfRoute(template, key)).toBe(ids.message.fn);
    }
    for (const key of routeKeys.filter((key) => key !== RouteKey.Connect)) {
      template.hasResourceProperties("AWS::ApiGatewayV2::Route", { RouteKey: key, AuthorizationType: "NONE" });
    }
  });

  it("deploys one throttled, auto-deployed stage named prod, with JSON access logs", () => {
    template.hasResourceProperties("AWS::ApiGatewayV2::Stage", {
      StageName: "prod",
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 },
      AccessLogSettings: {
        DestinationArn: { "Fn::GetAtt": [logicalId(full.webSocket.accessLogGroup), "Arn"] },
        Format: Match.stringLikeRegexp('"requestId":"\\$context.requestId"'),
      },
    });
  });

  it("sets the Region's API Gateway logging role before the stage needs it, and keeps the role", () => {
    const [accountId] = Object.keys(template.findResources("AWS::ApiGateway::Account"));
    const stage = template.toJSON().Resources[logicalId(full.webSocket.stage)] as Resource;
    expect(stage.DependsOn).toContain(accountId);
    template.hasResource("AWS::IAM::Role", {
      DeletionPolicy: "Retain",
      Properties: {
        AssumeRolePolicyDocument: Match.objectLike({
          Statement: [Match.objectLike({ Principal: { Service: "apigateway.amazonaws.com" } })],
        }),
      },
    });
  });
});

describe("ChatStack: tables", () => {
  /** What both tables share: on-demand, backed up, encrypted with the AWS managed key, no index, no stream. */
  const common = {
    BillingMode: "PAY_PER_REQUEST",
    PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    SSESpecification: { SSEEnabled: true },
    GlobalSecondaryIndexes: Match.absent(),
    StreamSpecification: Match.absent(),
  };

  it("are two: connections and rooms", () => {
    template.resourceCountIs("AWS::DynamoDB::Table", 2);
    externalTemplate.resourceCountIs("AWS::DynamoDB::Table", 2);
  });

  it("keep connections keyed, billed, expired, backed up and encrypted as core/connection-table.ts says", () => {
    template.hasResource("AWS::DynamoDB::Table", {
      DeletionPolicy: "Retain",
      UpdateReplacePolicy: "Retain",
      Properties: {
        ...common,
        KeySchema: [{ AttributeName: ConnectionTable.partitionKey, KeyType: "HASH" }],
        AttributeDefinitions: [{ AttributeName: ConnectionTable.partitionKey, AttributeType: "S" }],
        TimeToLiveSpecification: { AttributeName: ConnectionTable.timeToLiveAttribute, Enabled: true },
      },
    });
  });

  it("keep rooms keyed by room and sk, expired by ttl, exactly as the sandbox creates them (core/room-table.ts)", () => {
    const rooms = template.toJSON().Resources[logicalId(full.rooms.table)] as Resource;
    expect(rooms).toMatchObject({ DeletionPolicy: "Retain", UpdateReplacePolicy: "Retain" });
    Template.fromJSON({ Resources: { Rooms: rooms } }).hasResourceProperties("AWS::DynamoDB::Table", {
      ...common,
      KeySchema: [
        { AttributeName: RoomTable.partitionKey, KeyType: "HASH" },
        { AttributeName: RoomTable.sortKey, KeyType: "RANGE" },
      ],
      AttributeDefinitions: [
        { AttributeName: RoomTable.partitionKey, AttributeType: "S" },
        { AttributeName: RoomTable.sortKey, AttributeType: "S" },
      ],
      TimeToLiveSpecification: { AttributeName: RoomTable.timeToLiveAttribute, Enabled: true },
    });
    expect([RoomTable.partitionKey, RoomTable.sortKey, RoomTable.timeToLiveAttribute]).toEqual(["room", "sk", "ttl"]);
    const { KeySchema, AttributeDefinitions } = roomTableCreateInput("rooms");
    expect(rooms.Properties).toMatchObject({ KeySchema, AttributeDefinitions });
  });
});

describe("ChatStack: handlers", () => {
  it("run on Node.js 22 or 24, arm64, each with its own log group", () => {
    for (const { fn } of Object.values(ids)) {
      const { Properties } = template.toJSON().Resources[fn] as Resource;
      expect(Properties.Runtime).toMatch(/^nodejs2[24]\.x$/);
      expect(Properties.Architectures).toEqual(["arm64"]);
      expect(Properties.Handler).toBe("index.handler");
      expect(Properties.LoggingConfig).toEqual({ LogGroup: { Ref: expect.any(String) } });
    }
    expect(Object.keys(ids)).toHaveLength(6);
  });

  it("are bundled by esbuild as ESM with a require shim, a source map without the sources, and only what they use", () => {
    const { directory } = (external.node.root as App).synth();
    expect(Object.keys(externalIds).sort()).toEqual(["authorizer", "connect", "disconnect", "message", "worker"]);
    for (const [name, { fn }] of Object.entries(externalIds)) {
      const key = externalTemplate.toJSON().Resources[fn].Properties.Code.S3Key as string;
      const asset = join(directory, `asset.${key.replace(/\.zip$/, "")}`);
      expect(readFileSync(join(asset, "index.mjs"), "utf8")).toMatch(/^import \{ createRequire as /);
      const map = JSON.parse(readFileSync(join(asset, "index.mjs.map"), "utf8"));
      const entry = name === "worker" ? "fanout-worker" : name;
      expect(map.sources).toContainEqual(expect.stringMatching(new RegExp(`lambdas/${entry}\\.ts$`)));
      expect(map.sourcesContent).toBeUndefined();
      // The SDK comes with the Lambda runtime; supertokens-node only where it serves sign-in (the auth function,
      // checked in test/auth/auth-api-bundle.test.ts).
      const uses = (pkg: string) => map.sources.some((file: string) => file.split("/").includes(pkg));
      expect(uses("@aws-sdk")).toBe(false);
      expect(uses("supertokens-node")).toBe(false);
    }
  });

  it("give the authorizer and the message handler the token settings, and each handler what it reads", () => {
    const common = { [EnvVar.LogLevel]: "info", NODE_OPTIONS: "--enable-source-maps" };
    const tables = {
      [EnvVar.TableName]: { Ref: logicalId(full.connections.table) },
      [EnvVar.RoomsTableName]: { Ref: logicalId(full.rooms.table) },
    };
    // What builds a chat service (core/handlers/chat-from-env.ts) and so may broadcast and clean up after gone connections.
    const sender = {
      [EnvVar.CallbackUrl]: expect.objectContaining({ "Fn::Join": expect.anything() }),
      [EnvVar.FanoutQueueUrl]: { Ref: logicalId(full.fanout.queue) },
      [EnvVar.FanoutBatchSize]: "1000",
    };
    const tokens = {
      [EnvVar.JwksUri]: siteUrl(full, "/auth/jwt/jwks.json"),
      [EnvVar.Issuer]: siteUrl(full, "/auth"),
    };
    expect(envOf(template, ids.authorizer.fn)).toEqual({ ...common, ...tokens });
    expect(envOf(template, ids.connect.fn)).toEqual({ ...common, ...tables });
    expect(envOf(template, ids.disconnect.fn)).toEqual({ ...common, ...tables, ...sender });
    expect(envOf(template, ids.worker.fn)).toEqual({ ...common, ...tables, ...sender });
    expect(envOf(template, ids.message.fn)).toEqual({
      ...common,
      ...tables,
      ...tokens,
      ...sender,
      [EnvVar.MessageBurst]: "10",
      [EnvVar.MessagesPerSecond]: "2",
      [EnvVar.HistoryDays]: "30",
    });
    for (const name of ["disconnect", "message", "worker"] as const) {
      expect(JSON.stringify(envOf(template, ids[name].fn)[EnvVar.CallbackUrl])).toMatch(
        /"https:\/\/".*execute-api.*"\/prod"/,
      );
    }
  });

  it("set no variable that nothing reads", () => {
    const known = new Set<string>([...Object.values(EnvVar), ...Object.values(SuperTokensEnvVar), "NODE_OPTIONS"]);
    for (const [t, handlers] of [
      [template, ids],
      [externalTemplate, externalIds],
    ] as const) {
      for (const { fn } of Object.values(handlers)) {
        expect(Object.keys(envOf(t, fn)).filter((name) => !known.has(name))).toEqual([]);
      }
    }
  });

  it("take the rate limit, the fan-out batch size and the history's retention from the settings", () => {
    expect(envOf(externalTemplate, externalIds.message.fn)).toMatchObject({
      [EnvVar.MessageBurst]: "20",
      [EnvVar.MessagesPerSecond]: "0.5",
      [EnvVar.FanoutBatchSize]: "250",
      [EnvVar.HistoryDays]: "7",
    });
    for (const name of ["disconnect", "worker"] as const) {
      expect(envOf(externalTemplate, externalIds[name].fn)).toMatchObject({ [EnvVar.FanoutBatchSize]: "250" });
    }
  });

  it("give the route handlers time up to the 29 s integration limit, the authorizer room for two JWKS fetches", () => {
    const timeout = (id: string) => template.toJSON().Resources[id].Properties.Timeout;
    expect(timeout(ids.authorizer.fn) * 1000).toBeGreaterThan(2 * JWKS_RESPONSE_TIMEOUT_MS);
    expect(timeout(ids.authorizer.fn)).toBeLessThan(29);
    // Both broadcast: messages and presence from one, departures from the other.
    expect(timeout(ids.message.fn)).toBe(29);
    expect(timeout(ids.disconnect.fn)).toBe(29);
    for (const name of ["authorizer", "connect", "disconnect", "message"] as const) {
      expect(timeout(ids[name].fn)).toBeLessThanOrEqual(29);
    }
  });
});

describe("ChatStack: IAM", () => {
  const logs = ["logs:CreateLogStream", "logs:PutLogEvents"];
  const consume = [
    "sqs:ChangeMessageVisibility",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:GetQueueUrl",
    "sqs:ReceiveMessage",
  ];
  /**
   * What a chat service needs to broadcast and to forget a gone connection, announcing it with a presence version
   * (disconnect, message, worker).
   */
  const sender = [
    "dynamodb:GetItem on connections",
    "dynamodb:DeleteItem on connections",
    "dynamodb:DeleteItem on rooms",
    "dynamodb:UpdateItem on rooms",
    "dynamodb:Query on rooms",
    "execute-api:ManageConnections",
    "sqs:SendMessage",
  ];

  /** The role's actions, sorted; DynamoDB ones name their table: `dynamodb:PutItem on rooms`. */
  function permissions(stack: ChatStack, t: Template, roleId: string): string[] {
    const tables = new Map([
      [logicalId(stack.connections.table), "connections"],
      [logicalId(stack.rooms.table), "rooms"],
    ]);
    return statementsOf(t, roleId)
      .flatMap((statement) => {
        const resources = [statement.Resource].flat() as { "Fn::GetAtt"?: [string, string] }[];
        const table = resources.length === 1 ? tables.get(resources[0]?.["Fn::GetAtt"]?.[0] ?? "") : undefined;
        return actionsOf(statement).map((action) =>
          action.startsWith("dynamodb:") ? `${action} on ${table ?? JSON.stringify(resources)}` : action,
        );
      })
      .sort();
  }
  const allows = (name: keyof Ids) => permissions(full, template, ids[name].role);

  it("grants each handler exactly the actions it needs: the authorizer no DynamoDB at all", () => {
    expect(allows("authorizer")).toEqual(logs);
    expect(allows("connect")).toEqual(["dynamodb:PutItem on connections", "dynamodb:PutItem on rooms", ...logs]);
    expect(allows("disconnect")).toEqual([...sender, ...logs].sort());
    expect(allows("message")).toEqual(
      [...sender, "dynamodb:UpdateItem on connections", "dynamodb:PutItem on rooms", ...logs].sort(),
    );
    expect(allows("worker")).toEqual([...sender, ...consume, ...logs].sort());
    expect(allows("auth")).toEqual([...logs, "ssm:GetParameters"]);
    for (const name of ["authorizer", "connect", "disconnect", "message", "worker"] as const) {
      expect(permissions(external, externalTemplate, externalIds[name].role)).toEqual(allows(name));
    }
  });

  it("lets $connect store on both tables but read neither, and gives no role a Scan or a wildcard action", () => {
    expect(allows("connect").filter((action) => !/PutItem|^logs:/.test(action))).toEqual([]);
    for (const t of [template, externalTemplate]) {
      const actions = Object.values(t.findResources("AWS::IAM::Policy")).flatMap((policy) =>
        (policy.Properties.PolicyDocument.Statement as Statement[]).flatMap(actionsOf),
      );
      expect(actions).toContain("dynamodb:Query");
      expect(actions.filter((action) => /^(dynamodb|sqs|execute-api):.*(\*|Scan|Batch)|^\*$/.test(action))).toEqual([]);
    }
  });

  it("scopes DynamoDB to one table, SQS to the fan-out queue, logs to the handler's own log group", () => {
    const tableArns = [full.connections.table, full.rooms.table].map((table) => ({
      "Fn::GetAtt": [logicalId(table), "Arn"],
    }));
    const queueArn = { "Fn::GetAtt": [logicalId(full.fanout.queue), "Arn"] };
    const logGroups: Record<string, unknown> = Object.fromEntries(
      [...Object.entries(full.handlers), ["worker", full.fanout.worker], ["auth", full.authApi?.handler]].map(
        ([name, h]) => [name, { "Fn::GetAtt": [logicalId((h as ChatFunction).logGroup), "Arn"] }],
      ),
    );
    for (const [name, { role }] of Object.entries(ids)) {
      for (const statement of statementsOf(template, role)) {
        const resources = [statement.Resource].flat();
        const service = actionsOf(statement)[0]?.split(":")[0];
        if (service === "dynamodb") {
          expect(resources).toHaveLength(1);
          expect(tableArns).toContainEqual(resources[0]);
        }
        if (service === "sqs") expect(resources).toEqual([queueArn]);
        if (service === "logs") expect(resources).toEqual([logGroups[name]]);
      }
    }
  });

  it("allows ManageConnections on this API's stage @connections only, to the handlers that send", () => {
    const stages = [
      [full, template, ids, "prod"],
      [external, externalTemplate, externalIds, "beta"],
    ] as const;
    for (const [stack, t, handlers, stage] of stages) {
      for (const [name, { role }] of Object.entries(handlers)) {
        const manage = statementsOf(t, role).filter((s) => actionsOf(s).some((a) => a.startsWith("execute-api:")));
        if (!["disconnect", "message", "worker"].includes(name)) {
          expect(manage).toEqual([]);
          continue;
        }
        expect(manage).toHaveLength(1);
        const [statement] = manage as [Statement];
        expect(actionsOf(statement)).toEqual(["execute-api:ManageConnections"]);
        const [, parts] = (statement.Resource as { "Fn::Join": [string, unknown[]] })["Fn::Join"];
        expect(parts).toContainEqual({ Ref: logicalId(stack.webSocket.api) });
        expect(parts.at(-1)).toBe(`/${stage}/*/@connections/*`);
      }
    }
  });

  it("has no '*' resource anywhere, and no managed policy on a handler role", () => {
    for (const t of [template, externalTemplate]) {
      for (const policy of Object.values(t.findResources("AWS::IAM::Policy"))) {
        for (const statement of policy.Properties.PolicyDocument.Statement as Statement[]) {
          expect([statement.Resource].flat()).not.toContain("*");
        }
      }
    }
    for (const { role } of Object.values(ids)) {
      const properties = template.toJSON().Resources[role].Properties;
      expect(properties.ManagedPolicyArns).toBeUndefined();
      expect(properties.Policies).toBeUndefined();
    }
  });
});

describe("ChatStack: SuperTokens backend (mode a)", () => {
  it("serves supertokens-node behind an HTTP API at /auth/{proxy+}, any method, on the $default stage", () => {
    template.hasResourceProperties("AWS::ApiGatewayV2::Route", { RouteKey: "ANY /auth/{proxy+}" });
    expect(functionOfRoute(template, "ANY /auth/{proxy+}")).toBe(ids.auth.fn);
    template.hasResourceProperties("AWS::ApiGatewayV2::Stage", {
      StageName: "$default",
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 25, ThrottlingBurstLimit: 50 },
      AccessLogSettings: Match.objectLike({ Format: Match.stringLikeRegexp('"path":"\\$context.path"') }),
    });
  });

  it("throttles the session refresh and the JWKS apart from sign-in, so a flood of sign-ins cannot stop sessions", () => {
    const session = { ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 };
    const keys = ["POST /auth/session/refresh", "GET /auth/jwt/jwks.json"];
    for (const key of keys) expect(functionOfRoute(template, key)).toBe(ids.auth.fn);
    const [stageId, stage] =
      Object.entries(
        template.findResources("AWS::ApiGatewayV2::Stage", {
          Properties: { StageName: "$default" },
        }),
      )[0] ?? [];
    expect(stage?.Properties.RouteSettings).toEqual(Object.fromEntries(keys.map((key) => [key, session])));
    // Deployed after its routes: API Gateway refuses settings for a route it does not have.
    const routeIds = Object.keys(template.findResources("AWS::ApiGatewayV2::Route")).filter((id) =>
      keys.includes(template.toJSON().Resources[id].Properties.RouteKey),
    );
    expect(stageId).toBeDefined();
    expect(stage?.DependsOn).toEqual(expect.arrayContaining(routeIds));
  });

  it("gives the function where to read its settings, never a secret", () => {
    const api = full.authApi;
    expect(api).toBeDefined();
    expect(envOf(template, ids.auth.fn)).toEqual({
      [EnvVar.LogLevel]: "info",
      NODE_OPTIONS: "--enable-source-maps",
      [SuperTokensEnvVar.ConnectionUri]: CONNECTION_URI,
      [SuperTokensEnvVar.AppName]: "Chat",
      [SuperTokensEnvVar.ApiKeyParameter]: API_KEY_PARAMETER,
      [SuperTokensEnvVar.SiteOriginParameter]: "/Chat/site-origin",
    });
    // Only the parameter's name is in the template: no value, no reference to one.
    expect(JSON.stringify(template.toJSON())).not.toMatch(/SecureString|secretsmanager|apiKey/i);
    template.hasResourceProperties("AWS::IAM::Policy", {
      Roles: [{ Ref: ids.auth.role }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          {
            Action: "ssm:GetParameters",
            Effect: "Allow",
            Resource: ["/Chat/site-origin", API_KEY_PARAMETER].map((name) => ({
              "Fn::Join": ["", Match.arrayWith([Match.stringLikeRegexp(`:parameter${name.replace(/\//g, "\\/")}$`)])],
            })),
          },
        ]),
      },
    });
  });

  it("writes the site origin to the parameter the function reads, after the distribution exists", () => {
    template.hasResourceProperties("AWS::SSM::Parameter", {
      Name: "/Chat/site-origin",
      Type: "String",
      Value: siteUrl(full),
    });
  });

  it("has no dependency cycle: the function needs neither the distribution nor the parameter", () => {
    expect(findCycle(template)).toBeUndefined();
    expect(findCycle(externalTemplate)).toBeUndefined();
  });

  it("is not deployed in mode (b), whose tokens follow the context instead", () => {
    externalTemplate.resourceCountIs("AWS::ApiGatewayV2::Api", 1);
    externalTemplate.resourceCountIs("AWS::SSM::Parameter", 0);
    expect(external.authApi).toBeUndefined();
    for (const fn of [external.handlers.authorizer, external.handlers.message]) {
      expect(envOf(externalTemplate, logicalId(fn.function))).toMatchObject({
        [EnvVar.JwksUri]: JWKS_URI,
        [EnvVar.Issuer]: ISSUER,
      });
    }
  });
});

describe("ChatStack: web hosting", () => {
  const siteBucket = () => logicalId(full.site.bucket);

  it("keeps the page's bucket private: public access blocked, no website hosting, encrypted, access logged", () => {
    template.hasResourceProperties("AWS::S3::Bucket", {
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: "AES256" } }],
      },
      LoggingConfiguration: { DestinationBucketName: { Ref: logicalId(full.site.logBucket) }, LogFilePrefix: "s3/" },
    });
    for (const bucket of Object.values(template.findResources("AWS::S3::Bucket"))) {
      expect(bucket.Properties.WebsiteConfiguration).toBeUndefined();
      expect(bucket.Properties.PublicAccessBlockConfiguration).toEqual({
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      });
    }
  });

  it("lets only this distribution read the bucket (origin access control), and only over TLS", () => {
    const [policy] = Object.values(
      template.findResources("AWS::S3::BucketPolicy", { Properties: { Bucket: { Ref: siteBucket() } } }),
    );
    const statements = policy?.Properties.PolicyDocument.Statement as Statement[];
    const allows = statements.filter((s) => s.Effect === "Allow");
    expect(allows).toEqual([
      expect.objectContaining({
        Action: "s3:GetObject",
        Principal: { Service: "cloudfront.amazonaws.com" },
        Condition: {
          StringEquals: {
            "AWS:SourceArn": {
              "Fn::Join": ["", expect.arrayContaining([{ Ref: logicalId(full.site.distribution) }])],
            },
          },
        },
      }),
    ]);
    expect(statements.filter((s) => s.Effect === "Deny")).toEqual([
      expect.objectContaining({ Action: "s3:*", Condition: { Bool: { "aws:SecureTransport": "false" } } }),
    ]);
    template.hasResourceProperties("AWS::CloudFront::Distribution", {
      DistributionConfig: {
        Origins: Match.arrayWith([
          Match.objectLike({
            DomainName: { "Fn::GetAtt": [siteBucket(), "RegionalDomainName"] },
            OriginAccessControlId: Match.anyValue(),
          }),
        ]),
      },
    });
  });

  it("serves the page over HTTPS only, index.html at the root, with security headers and access logs", () => {
    template.hasResourceProperties("AWS::CloudFront::Distribution", {
      DistributionConfig: {
        DefaultRootObject: "index.html",
        DefaultCacheBehavior: {
          ViewerProtocolPolicy: "redirect-to-https",
          ResponseHeadersPolicyId: "67f7725c-6f97-4210-82d7-5512b31e9d03",
        },
        Logging: { Bucket: { "Fn::GetAtt": [logicalId(full.site.logBucket), "RegionalDomainName"] } },
      },
    });
  });

  it("routes /auth/* to the HTTP API, uncached, every method, every viewer header but Host", () => {
    const config = template.toJSON().Resources[logicalId(full.site.distribution)].Properties.DistributionConfig;
    const behavior = config.CacheBehaviors.find((b: { PathPattern: string }) => b.PathPattern === "/auth/*");
    expect(behavior).toMatchObject({
      CachePolicyId: CACHING_DISABLED,
      OriginRequestPolicyId: ALL_VIEWER_EXCEPT_HOST_HEADER,
      ViewerProtocolPolicy: "https-only",
    });
    expect(behavior.AllowedMethods.sort()).toEqual(["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"]);
    const origin = config.Origins.find((o: { Id: string }) => o.Id === behavior.TargetOriginId);
    expect(origin.CustomOriginConfig).toEqual({ OriginProtocolPolicy: "https-only", OriginSSLProtocols: ["TLSv1.2"] });
    const [api, domain] = origin.DomainName["Fn::Join"][1];
    expect([api, domain]).toEqual([{ Ref: logicalId(full.authApi?.httpApi ?? full) }, ".execute-api."]);
    // The JWKS, matched first, is cached as long as the backend's Cache-Control says.
    expect(config.CacheBehaviors.map((b: { PathPattern: string }) => b.PathPattern)).toEqual([
      "/auth/jwt/jwks.json",
      "/auth/*",
    ]);
    template.hasResourceProperties("AWS::CloudFront::CachePolicy", {
      CachePolicyConfig: Match.objectLike({ DefaultTTL: 0, MinTTL: 0, MaxTTL: 3600 }),
    });
  });

  it("has no /auth behavior in mode (b): the page signs in at the existing backend", () => {
    externalTemplate.hasResourceProperties("AWS::CloudFront::Distribution", {
      DistributionConfig: { CacheBehaviors: Match.absent() },
    });
  });

  it("deploys hashed files cached for a year, then index.html and config.json uncached, without pruning them", () => {
    const deployments = template.findResources("Custom::CDKBucketDeployment");
    const assets = deployments[deploymentId(full.site.assets)];
    const [pageId, page] = Object.entries(deployments).find(([id]) => id !== deploymentId(full.site.assets)) ?? [];
    expect(Object.keys(deployments)).toHaveLength(2);
    expect(assets?.Properties).toMatchObject({
      DestinationBucketName: { Ref: siteBucket() },
      Prune: true,
      Exclude: ["index.html", "config.json"],
      SystemMetadata: { "cache-control": "public, max-age=31536000, immutable" },
    });
    expect(page?.Properties).toMatchObject({
      DestinationBucketName: { Ref: siteBucket() },
      Prune: false,
      Exclude: ["*"],
      Include: ["index.html", "config.json"],
      SystemMetadata: { "cache-control": "no-cache" },
    });
    expect(page?.Properties.SourceObjectKeys).toHaveLength(2);
    expect(page?.DependsOn).toContain(deploymentId(full.site.assets));
    expect(pageId).toBeDefined();
  });

  it("writes config.json with the WebSocket URL, the token transport, the SuperTokens backend and the rate limit", () => {
    expect(deployedConfig(full, template)).toEqual({
      webSocketUrl: "wss://<WebSocketApi>.execute-api.<AWS::Region>.<AWS::URLSuffix>/prod",
      tokenTransport: "query",
      auth: { mode: "supertokens", apiDomain: "https://<SiteDistribution.DomainName>", apiBasePath: "/auth" },
      appName: "Chat",
      rateLimit: { burst: 10, perSecond: 2 },
    });
    expect(deployedConfig(external, externalTemplate)).toMatchObject({
      webSocketUrl: "wss://<WebSocketApi>.execute-api.<AWS::Region>.<AWS::URLSuffix>/beta",
      tokenTransport: "subprotocol",
      auth: { mode: "supertokens", apiDomain: "https://api.example.com", apiBasePath: "/auth" },
      appName: "Team chat",
      rateLimit: { burst: 20, perSecond: 0.5 },
    });
  });

  it("builds the page with web/build.ts: index.html and content-hashed assets", () => {
    const { directory } = (external.node.root as App).synth();
    const assets = externalTemplate.toJSON().Resources[deploymentId(external.site.assets)].Properties;
    const dir = join(directory, `asset.${(assets.SourceObjectKeys[0] as string).replace(/\.zip$/, "")}`);
    expect(readFileSync(join(dir, "index.html"), "utf8")).toMatch(/src="assets\/main-[A-Z0-9]+\.js"/);
    expect(readdirSync(join(dir, "assets")).some((file) => /^main-[A-Z0-9]+\.js$/.test(file))).toBe(true);
  });
});

describe("ChatStack: fan-out workers", () => {
  it("queue batches encrypted, TLS only, with a watched dead-letter queue after 3 receives", () => {
    const queueId = logicalId(full.fanout.queue);
    const dlqId = logicalId(full.fanout.deadLetterQueue);
    template.hasResourceProperties("AWS::SQS::Queue", {
      SqsManagedSseEnabled: true,
      RedrivePolicy: { deadLetterTargetArn: { "Fn::GetAtt": [dlqId, "Arn"] }, maxReceiveCount: 3 },
    });
    template.hasResourceProperties("AWS::SQS::Queue", { SqsManagedSseEnabled: true, MessageRetentionPeriod: 1209600 });
    // Failed batches hold message text: with a 7-day history, they go after 7 days too.
    Template.fromStack(external).hasResourceProperties("AWS::SQS::Queue", { MessageRetentionPeriod: 7 * 86_400 });
    template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      MetricName: "ApproximateNumberOfMessagesVisible",
      Dimensions: [{ Name: "QueueName", Value: { "Fn::GetAtt": [dlqId, "QueueName"] } }],
      Threshold: 1,
      ComparisonOperator: "GreaterThanOrEqualToThreshold",
    });
    for (const id of [queueId, dlqId]) {
      template.hasResourceProperties("AWS::SQS::QueuePolicy", {
        Queues: [{ Ref: id }],
        PolicyDocument: {
          Statement: [Match.objectLike({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } })],
        },
      });
    }
  });

  it("hide a batch for six times the worker's timeout while a worker sends it", () => {
    const resources = template.toJSON().Resources;
    const visibility = resources[logicalId(full.fanout.queue)].Properties.VisibilityTimeout as number;
    expect(visibility).toBeGreaterThanOrEqual(6 * (resources[ids.worker.fn].Properties.Timeout as number));
    expect(resources[ids.worker.fn].Properties.ReservedConcurrentExecutions).toBeUndefined();
  });

  it("feed the worker one batch per invocation, reporting failed batches one by one", () => {
    template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      FunctionName: { Ref: ids.worker.fn },
      EventSourceArn: { "Fn::GetAtt": [logicalId(full.fanout.queue), "Arn"] },
      BatchSize: 1,
      FunctionResponseTypes: ["ReportBatchItemFailures"],
      // Workers × roughly 2,500 sends/s each stays under the account's 10,000 requests/s.
      ScalingConfig: { MaximumConcurrency: 3 },
    });
    Template.fromStack(external).hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      ScalingConfig: { MaximumConcurrency: 40 },
    });
  });
});

describe("ChatStack: outputs and checks", () => {
  it("outputs the site URL, the wss:// URL, the callback URL, the tables and the dead-letter queue", () => {
    template.hasOutput("SiteUrl", { Value: siteUrl(full, "/") });
    template.hasOutput("WebSocketUrl", { Value: { "Fn::Join": ["", Match.arrayWith(["wss://", "/prod"])] } });
    template.hasOutput("CallbackUrl", { Value: { "Fn::Join": ["", Match.arrayWith(["https://", "/prod"])] } });
    template.hasOutput("ConnectionsTableName", { Value: { Ref: logicalId(full.connections.table) } });
    template.hasOutput("RoomsTableName", { Value: { Ref: logicalId(full.rooms.table) } });
    template.hasOutput("FanoutDeadLetterQueueUrl", { Value: { Ref: logicalId(full.fanout.deadLetterQueue) } });
  });

  it("passes cdk-nag's AwsSolutions pack with no unacknowledged error or warning, in both modes", () => {
    for (const stack of [full, external]) {
      const report = new AwsSolutionsChecks().validateScope(stack);
      expect(report.violations.map((v) => `${v.severity} ${v.ruleName}`)).toEqual([]);
    }
  });

  it("reports no synth warnings or errors with valid settings", () => {
    for (const stack of [full, external]) {
      // Each Annotations.fromStack synthesizes the app again: once per stack.
      const annotations = Annotations.fromStack(stack);
      expect(annotations.findWarning("*", Match.anyValue())).toEqual([]);
      expect(annotations.findError("*", Match.anyValue())).toEqual([]);
    }
  });
});

describe("ChatStack: settings", () => {
  // The changed settings are the `external` stack's, which the checks above (cdk-nag included) cover too.
  it("uses the stageName context for the stage and the URLs (the @connections grant: see IAM)", () => {
    externalTemplate.hasResourceProperties("AWS::ApiGatewayV2::Stage", { StageName: "beta" });
    for (const output of ["WebSocketUrl", "CallbackUrl"]) {
      externalTemplate.hasOutput(output, { Value: { "Fn::Join": ["", Match.arrayWith(["/beta"])] } });
    }
  });

  it("throttles the stage's routes as stageRateLimit and stageBurstLimit say", () => {
    externalTemplate.hasResourceProperties("AWS::ApiGatewayV2::Stage", {
      DefaultRouteSettings: { ThrottlingRateLimit: 2000, ThrottlingBurstLimit: 4000 },
    });
  });

  it("leaves the API Gateway account setting alone when apiGatewayCloudWatchRole is false", () => {
    template.resourceCountIs("AWS::ApiGateway::Account", 1);
    externalTemplate.resourceCountIs("AWS::ApiGateway::Account", 0);
    expect(Object.keys(externalTemplate.findResources("AWS::IAM::Role", { DeletionPolicy: "Retain" }))).toEqual([]);
  });

  it("sets the history's retention from historyDays, and refuses one that is not a whole number of days", () => {
    expect(envOf(externalTemplate, externalIds.message.fn)[EnvVar.HistoryDays]).toBe("7");
    expect(() => chatStack({ ...VALID_CONTEXT, historyDays: "0" })).toThrow(
      /^historyDays must be a whole number, 1 or more, got 0 \(for example: cdk deploy -c historyDays=30\)$/,
    );
  });

  it("fails with the setting's name and an example when the context is missing or malformed", () => {
    expect(() => chatStack({})).toThrow(
      /^supertokensConnectionUri or jwksUri and issuer must be set: .*\(for example: cdk deploy -c supertokensConnectionUri=https:\/\/try\.supertokens\.com -c allowCoreWithoutApiKey=true\)$/,
    );
    expect(() => chatStack({ ...VALID_CONTEXT, issuer: "http://api.example.com/auth" })).toThrow(/^issuer must be/);
    expect(() => chatStack({ ...VALID_CONTEXT, stageName: "prod/v1" })).toThrow(/^stageName must be/);
  });

  it("shows config warnings at synth: an odd JWKS URL, a core without an API key", () => {
    const odd = chatStack({ ...VALID_CONTEXT, jwksUri: "https://keys.example.com/jwks.json" });
    Annotations.fromStack(odd).hasWarning("/Chat", Match.stringLikeRegexp("jwksUri is not .*/jwt/jwks.json"));
    const demo = chatStack(DEMO_CORE_CONTEXT);
    Annotations.fromStack(demo).hasWarning("/Chat", Match.stringLikeRegexp("sign in to this chat as anyone"));
  });
});

/**
 * config.json as the page deployment writes it: the staged JSON with each deploy-time marker replaced by the
 * placeholder `<LogicalId>` (or `<LogicalId.Attribute>`, `<AWS::Region>`) of what it stands for.
 */
function deployedConfig(stack: ChatStack, t: Template): unknown {
  const { directory } = (stack.node.root as App).synth();
  const deployments = Object.values(t.findResources("Custom::CDKBucketDeployment"));
  const page = deployments.find((d) => d.Properties.Include);
  if (!page) throw new Error("no page deployment");
  const key = (page.Properties.SourceObjectKeys[1] as string).replace(/\.zip$/, "");
  const dir = join(directory, `asset.${key}`);
  const file = statSync(dir).isDirectory() ? join(dir, "config.json") : dir;
  let text = readFileSync(file, "utf8");
  const shortId = (id: string) => id.replace(/[0-9A-F]{8}$/, "");
  for (const [marker, value] of Object.entries(page.Properties.SourceMarkers[1] as Record<string, unknown>)) {
    const v = value as { Ref?: string; "Fn::GetAtt"?: [string, string] };
    const name = v.Ref ? shortId(v.Ref) : `${shortId(v["Fn::GetAtt"]?.[0] ?? "")}.${v["Fn::GetAtt"]?.[1]}`;
    text = text.replaceAll(marker, `<${name}>`);
  }
  return JSON.parse(text);
}
