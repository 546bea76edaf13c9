import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { App } from "aws-cdk-lib";
import { Annotations, Match, Template } from "aws-cdk-lib/assertions";
import { AwsSolutionsChecks } from "cdk-nag";
import { beforeAll, describe, expect, it } from "vitest";
import { ConnectionTable } from "../../core/connection-table.js";
import { EnvVar } from "../../core/env.js";
import { CLIENT_ACTIONS, ROUTE_SELECTION_EXPRESSION, RouteKey, TOKEN_IDENTITY_SOURCE } from "../../core/protocol.js";
import type { ChatStack } from "../../lib/chat-stack.js";
import { chatStack, ISSUER, JWKS_URI, logicalId, VALID_CONTEXT } from "./support.js";

type Resource = { Type: string; Properties: Record<string, unknown>; DependsOn?: string[]; DeletionPolicy?: string };
interface Statement {
  Action: string | string[];
  Resource: unknown;
  Effect: string;
}

const actionsOf = (statement: Statement) => [statement.Action].flat();

/** Every statement of the inline policies attached to `roleId`. */
function statementsOf(template: Template, roleId: string): Statement[] {
  return Object.values(template.findResources("AWS::IAM::Policy"))
    .filter((policy) => JSON.stringify(policy.Properties.Roles).includes(`"${roleId}"`))
    .flatMap((policy) => policy.Properties.PolicyDocument.Statement as Statement[]);
}

/** Logical id of the function behind the route with `routeKey`. */
function functionOfRoute(template: Template, routeKey: string): string {
  const [route] = Object.values(
    template.findResources("AWS::ApiGatewayV2::Route", { Properties: { RouteKey: routeKey } }),
  );
  const integrationId = route?.Properties.Target["Fn::Join"][1][1].Ref as string;
  const integration = template.toJSON().Resources[integrationId] as Resource;
  return JSON.stringify(integration.Properties.IntegrationUri).match(/"Fn::GetAtt":\["(\w+)","Arn"\]/)?.[1] ?? "";
}

// One synthesized stack, bundled by the real esbuild, shared by every test that only reads it.
let stack: ChatStack;
let template: Template;
let ids: Record<"authorizer" | "connect" | "disconnect" | "message", { fn: string; role: string }>;
beforeAll(() => {
  stack = chatStack(VALID_CONTEXT, { bundle: true });
  template = Template.fromStack(stack);
  const handlerIds = Object.entries(stack.handlers).map(([name, h]) => [
    name,
    { fn: logicalId(h.function), role: logicalId(h.role) },
  ]);
  ids = Object.fromEntries(handlerIds);
});

describe("ChatStack: WebSocket API", () => {
  it("selects routes with the protocol's expression", () => {
    template.hasResourceProperties("AWS::ApiGatewayV2::Api", {
      ProtocolType: "WEBSOCKET",
      RouteSelectionExpression: ROUTE_SELECTION_EXPRESSION,
    });
  });

  it("guards $connect with a REQUEST authorizer reading the token from the query string", () => {
    const authorizers = template.findResources("AWS::ApiGatewayV2::Authorizer", {
      Properties: { AuthorizerType: "REQUEST", IdentitySource: [TOKEN_IDENTITY_SOURCE] },
    });
    const [authorizerId] = Object.keys(authorizers);
    expect(Object.keys(authorizers)).toHaveLength(1);
    expect(JSON.stringify(authorizers[authorizerId ?? ""]?.Properties.AuthorizerUri)).toContain(
      `"${ids.authorizer.fn}"`,
    );
    expect(TOKEN_IDENTITY_SOURCE).toBe("route.request.querystring.token");
    template.hasResourceProperties("AWS::ApiGatewayV2::Route", {
      RouteKey: RouteKey.Connect,
      AuthorizationType: "CUSTOM",
      AuthorizerId: { Ref: authorizerId },
    });
  });

  it("has $connect, $disconnect, $default and a route per client action, each on its handler", () => {
    const routeKeys = Object.values(template.findResources("AWS::ApiGatewayV2::Route")).map(
      (route) => route.Properties.RouteKey,
    );
    expect(routeKeys.sort()).toEqual(Object.values(RouteKey).sort());
    expect(CLIENT_ACTIONS).toContain(RouteKey.SendMessage);
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
    template.resourceCountIs("AWS::ApiGatewayV2::Stage", 1);
    template.hasResourceProperties("AWS::ApiGatewayV2::Stage", {
      StageName: "prod",
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 },
      AccessLogSettings: {
        DestinationArn: { "Fn::GetAtt": [logicalId(stack.webSocket.accessLogGroup), "Arn"] },
        Format: Match.stringLikeRegexp('"requestId":"\\$context.requestId"'),
      },
    });
    template.hasResourceProperties("AWS::Logs::LogGroup", { RetentionInDays: 30 });
  });

  it("sets the Region's API Gateway logging role before the stage needs it, and keeps the role", () => {
    const [accountId] = Object.keys(template.findResources("AWS::ApiGateway::Account"));
    const [stage] = Object.values(template.findResources("AWS::ApiGatewayV2::Stage"));
    expect(stage?.DependsOn).toContain(accountId);
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

describe("ChatStack: connections table", () => {
  it("is keyed, billed, expired, backed up and encrypted as core/connection-table.ts says", () => {
    template.resourceCountIs("AWS::DynamoDB::Table", 1);
    template.hasResource("AWS::DynamoDB::Table", {
      DeletionPolicy: "Retain",
      UpdateReplacePolicy: "Retain",
      Properties: {
        KeySchema: [{ AttributeName: ConnectionTable.partitionKey, KeyType: "HASH" }],
        AttributeDefinitions: [{ AttributeName: ConnectionTable.partitionKey, AttributeType: "S" }],
        BillingMode: "PAY_PER_REQUEST",
        TimeToLiveSpecification: { AttributeName: ConnectionTable.timeToLiveAttribute, Enabled: true },
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        SSESpecification: { SSEEnabled: true },
      },
    });
  });
});

describe("ChatStack: handlers", () => {
  it("run on Node.js 22 or 24, arm64, each with its own log group", () => {
    const functions = Object.values(template.findResources("AWS::Lambda::Function")) as Resource[];
    expect(functions).toHaveLength(4);
    for (const fn of functions) {
      expect(fn.Properties.Runtime).toMatch(/^nodejs2[24]\.x$/);
      expect(fn.Properties.Architectures).toEqual(["arm64"]);
      expect(fn.Properties.Handler).toBe("index.handler");
      expect(fn.Properties.LoggingConfig).toEqual({ LogGroup: { Ref: expect.any(String) } });
    }
  });

  it("are bundled by esbuild as ESM with a require shim and a source map without the sources", () => {
    const { directory } = (stack.node.root as App).synth();
    for (const [name, { fn }] of Object.entries(ids)) {
      const key = template.toJSON().Resources[fn].Properties.Code.S3Key as string;
      const asset = join(directory, `asset.${key.replace(/\.zip$/, "")}`);
      expect(readFileSync(join(asset, "index.mjs"), "utf8")).toMatch(/^import \{ createRequire as /);
      const map = JSON.parse(readFileSync(join(asset, "index.mjs.map"), "utf8"));
      expect(map.sources).toContainEqual(expect.stringMatching(new RegExp(`lambdas/${name}\\.ts$`)));
      expect(map.sourcesContent).toBeUndefined();
    }
  });

  it("get the environment each handler reads, and no more", () => {
    const env = (id: string) => template.toJSON().Resources[id].Properties.Environment.Variables;
    const common = { [EnvVar.LogLevel]: "info", NODE_OPTIONS: "--enable-source-maps" };
    const table = { [EnvVar.TableName]: { Ref: logicalId(stack.connections.table) } };
    expect(env(ids.authorizer.fn)).toEqual({ ...common, [EnvVar.JwksUri]: JWKS_URI, [EnvVar.Issuer]: ISSUER });
    expect(env(ids.connect.fn)).toEqual({ ...common, ...table });
    expect(env(ids.disconnect.fn)).toEqual({ ...common, ...table });
    expect(env(ids.message.fn)).toEqual({ ...common, ...table, [EnvVar.CallbackUrl]: expect.anything() });
    expect(JSON.stringify(env(ids.message.fn)[EnvVar.CallbackUrl])).toMatch(/"https:\/\/".*execute-api.*"\/prod"/);
  });

  it("give the route handlers time up to the 29 s integration limit, the authorizer little", () => {
    const timeout = (id: string) => template.toJSON().Resources[id].Properties.Timeout;
    expect(timeout(ids.authorizer.fn)).toBe(5);
    expect(timeout(ids.message.fn)).toBe(29);
    for (const { fn } of Object.values(ids)) expect(timeout(fn)).toBeLessThanOrEqual(29);
  });
});

describe("ChatStack: IAM", () => {
  it("grants each handler exactly the actions it needs: the authorizer no DynamoDB at all", () => {
    const actions = (roleId: string) => statementsOf(template, roleId).flatMap(actionsOf).sort();
    const logs = ["logs:CreateLogStream", "logs:PutLogEvents"];
    expect(actions(ids.authorizer.role)).toEqual(logs);
    expect(actions(ids.connect.role)).toEqual(["dynamodb:PutItem", ...logs]);
    expect(actions(ids.disconnect.role)).toEqual(["dynamodb:DeleteItem", ...logs]);
    expect(actions(ids.message.role)).toEqual([
      "dynamodb:DeleteItem",
      "dynamodb:GetItem",
      "dynamodb:Scan",
      "execute-api:ManageConnections",
      ...logs,
    ]);
  });

  it("scopes DynamoDB to the table and logs to the handler's own log group", () => {
    const tableArn = { "Fn::GetAtt": [logicalId(stack.connections.table), "Arn"] };
    for (const [name, { role }] of Object.entries(ids)) {
      for (const statement of statementsOf(template, role)) {
        const resources = [statement.Resource].flat();
        if (actionsOf(statement).some((action) => action.startsWith("dynamodb:"))) {
          expect(resources).toEqual([tableArn]);
        }
        if (actionsOf(statement).some((action) => action.startsWith("logs:"))) {
          const logGroup = stack.handlers[name as keyof typeof ids].logGroup;
          expect(resources).toEqual([{ "Fn::GetAtt": [logicalId(logGroup), "Arn"] }]);
        }
      }
    }
  });

  it("allows ManageConnections on this API's prod stage @connections only", () => {
    const statements = Object.values(ids).flatMap(({ role }) => statementsOf(template, role));
    const manage = statements.filter((s) => actionsOf(s).some((action) => action.startsWith("execute-api:")));
    expect(manage).toHaveLength(1);
    const [statement] = manage as [Statement];
    expect(actionsOf(statement)).toEqual(["execute-api:ManageConnections"]);
    const [, parts] = (statement.Resource as { "Fn::Join": [string, unknown[]] })["Fn::Join"];
    expect(parts).toContainEqual({ Ref: logicalId(stack.webSocket.api) });
    expect(parts.at(-1)).toBe("/prod/*/@connections/*");
  });

  it("has no '*' resource anywhere, and no managed policy on a handler role", () => {
    for (const policy of Object.values(template.findResources("AWS::IAM::Policy"))) {
      for (const statement of policy.Properties.PolicyDocument.Statement as Statement[]) {
        expect([statement.Resource].flat()).not.toContain("*");
      }
    }
    for (const { role } of Object.values(ids)) {
      const properties = template.toJSON().Resources[role].Properties;
      expect(properties.ManagedPolicyArns).toBeUndefined();
      expect(properties.Policies).toBeUndefined();
    }
  });
});

describe("ChatStack: outputs and checks", () => {
  it("outputs the wss:// URL, the callback URL and the table name", () => {
    template.hasOutput("WebSocketUrl", { Value: { "Fn::Join": ["", Match.arrayWith(["wss://", "/prod"])] } });
    template.hasOutput("CallbackUrl", { Value: { "Fn::Join": ["", Match.arrayWith(["https://", "/prod"])] } });
    template.hasOutput("ConnectionsTableName", { Value: { Ref: logicalId(stack.connections.table) } });
  });

  it("passes cdk-nag's AwsSolutions pack with no unacknowledged error or warning", () => {
    const report = new AwsSolutionsChecks().validateScope(stack);
    expect(report.violations.map((v) => `${v.severity} ${v.ruleName}`)).toEqual([]);
  });

  it("reports no synth warnings or errors with valid settings", () => {
    expect(Annotations.fromStack(stack).findWarning("*", Match.anyValue())).toEqual([]);
    expect(Annotations.fromStack(stack).findError("*", Match.anyValue())).toEqual([]);
  });
});

describe("ChatStack: settings", () => {
  it("uses the stageName context for the stage, the URLs and the @connections grant", () => {
    const beta = chatStack({ ...VALID_CONTEXT, stageName: "beta" });
    const t = Template.fromStack(beta);
    t.hasResourceProperties("AWS::ApiGatewayV2::Stage", { StageName: "beta" });
    t.hasOutput("WebSocketUrl", { Value: { "Fn::Join": ["", Match.arrayWith(["/beta"])] } });
    t.hasResourceProperties("AWS::IAM::Policy", {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: "execute-api:ManageConnections",
            Resource: { "Fn::Join": ["", Match.arrayWith(["/beta/*/@connections/*"])] },
          }),
        ]),
      },
    });
    expect(new AwsSolutionsChecks().validateScope(beta).violations).toEqual([]);
  });

  it("leaves the API Gateway account setting alone when apiGatewayCloudWatchRole is false", () => {
    const t = Template.fromStack(chatStack({ ...VALID_CONTEXT, apiGatewayCloudWatchRole: "false" }));
    t.resourceCountIs("AWS::ApiGateway::Account", 0);
    t.resourceCountIs("AWS::IAM::Role", 4);
  });

  it("fails with the setting's name and an example when the context is missing or malformed", () => {
    expect(() => chatStack({})).toThrow(/^jwksUri is not set.*-c jwksUri=https:\/\/api\.example\.com/);
    expect(() => chatStack({ ...VALID_CONTEXT, issuer: "http://api.example.com/auth" })).toThrow(/^issuer must be/);
    expect(() => chatStack({ ...VALID_CONTEXT, stageName: "prod/v1" })).toThrow(/^stageName must be/);
  });

  it("shows a config warning at synth", () => {
    const odd = chatStack({ ...VALID_CONTEXT, jwksUri: "https://keys.example.com/jwks.json" });
    Annotations.fromStack(odd).hasWarning("/Chat", Match.stringLikeRegexp("jwksUri is not .*/jwt/jwks.json"));
  });
});
