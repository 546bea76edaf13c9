import { RemovalPolicy, Stack, Token, Validations } from "aws-cdk-lib";
import { AccessLogField, AccessLogFormat, CfnAccount } from "aws-cdk-lib/aws-apigateway";
import {
  LogGroupLogDestination,
  type ThrottleSettings,
  WebSocketApi,
  type WebSocketRoute,
  WebSocketStage,
} from "aws-cdk-lib/aws-apigatewayv2";
import { WebSocketLambdaAuthorizer } from "aws-cdk-lib/aws-apigatewayv2-authorizers";
import { WebSocketLambdaIntegration } from "aws-cdk-lib/aws-apigatewayv2-integrations";
import { type Grant, type IGrantable, ManagedPolicy, Role, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import { LogGroup, RetentionDays } from "aws-cdk-lib/aws-logs";
import { Construct } from "constructs";
import {
  CLIENT_ACTIONS,
  ROUTE_SELECTION_EXPRESSION,
  RouteKey,
  TOKEN_IDENTITY_SOURCES,
  TokenTransport,
} from "../core/protocol.js";

/** API Gateway's default account-level throttle per Region, shared by every API and the `@connections` callbacks. */
export const ACCOUNT_RATE_LIMIT = 10_000;
export const ACCOUNT_BURST_LIMIT = 5_000;

/**
 * Stage throttling when none is given: far below the account's throttle, so one noisy chat cannot starve the other
 * APIs in the Region. It applies to each route across all clients: 100 `sendmessage` a second is about a thousand
 * people talking, each a message every ten seconds. Raise it with the `stageRateLimit`/`stageBurstLimit` settings.
 */
export const DEFAULT_THROTTLE = { rateLimit: 100, burstLimit: 200 } as const satisfies ThrottleSettings;

const STAGE_NAME = /^[A-Za-z0-9_-]{1,128}$/;

/** Properties of a `ChatWebSocketApi`. */
export interface ChatWebSocketApiProps {
  /** REQUEST authorizer for `$connect`; gets the token from where `tokenTransport` says. */
  readonly authorizerHandler: IFunction;
  /** `$connect` integration, run after the authorizer allowed the connection. */
  readonly connectHandler: IFunction;
  /** `$disconnect` integration. */
  readonly disconnectHandler: IFunction;
  /** Integration of every client action (`CLIENT_ACTIONS`, e.g. `sendmessage`) and of `$default`. */
  readonly messageHandler: IFunction;

  /**
   * Where clients put the token at connect, which is the authorizer's identity source (`TOKEN_IDENTITY_SOURCES`): the
   * `token` query parameter, or the `Sec-WebSocket-Protocol` header. A request without it is refused with 401 before
   * the authorizer runs.
   *
   * @default TokenTransport.Query
   */
  readonly tokenTransport?: TokenTransport;

  /**
   * Stage name; it is also the last path segment of the URLs.
   *
   * @default "prod"
   */
  readonly stageName?: string;

  /**
   * Default throttling of every route of the stage. A field left out takes its default.
   *
   * @default DEFAULT_THROTTLE: rateLimit 100 requests/s, burstLimit 200
   */
  readonly throttle?: ThrottleSettings;

  /**
   * How long the stage's access logs are kept.
   *
   * @default RetentionDays.ONE_MONTH
   */
  readonly accessLogRetention?: RetentionDays;

  /**
   * Whether to set the Region's API Gateway CloudWatch role (`AWS::ApiGateway::Account`). WebSocket access logs need
   * one, and a stage with access logs fails to deploy where none is set. It is one setting per account and Region:
   * turn this off where another stack manages it. The role is retained when the stack is deleted, since other APIs
   * may log through it by then.
   *
   * @default true
   */
  readonly apiGatewayCloudWatchRole?: boolean;
}

/**
 * The chat's WebSocket API: `$connect` behind the token authorizer, `$disconnect`, `$default` and one route per client
 * action, and one stage with throttling and JSON access logs.
 */
export class ChatWebSocketApi extends Construct {
  readonly api: WebSocketApi;
  readonly stage: WebSocketStage;
  readonly accessLogGroup: LogGroup;
  /** Every route, by route key. */
  readonly routes: Readonly<Record<RouteKey, WebSocketRoute>>;

  constructor(scope: Construct, id: string, props: ChatWebSocketApiProps) {
    super(scope, id);
    const stageName = props.stageName ?? "prod";
    if (!Token.isUnresolved(stageName) && !STAGE_NAME.test(stageName)) {
      throw new Error(`stageName must be 1 to 128 letters, digits, '-' or '_', got ${JSON.stringify(stageName)}`);
    }
    const throttle = {
      rateLimit: props.throttle?.rateLimit ?? DEFAULT_THROTTLE.rateLimit,
      burstLimit: props.throttle?.burstLimit ?? DEFAULT_THROTTLE.burstLimit,
    };
    if (!Token.isUnresolved(throttle.rateLimit) && !(throttle.rateLimit > 0)) {
      throw new Error(`throttle.rateLimit must be a positive number of requests per second, got ${throttle.rateLimit}`);
    }
    if (
      !Token.isUnresolved(throttle.burstLimit) &&
      !(Number.isInteger(throttle.burstLimit) && throttle.burstLimit > 0)
    ) {
      throw new Error(`throttle.burstLimit must be a positive whole number of requests, got ${throttle.burstLimit}`);
    }

    this.api = new WebSocketApi(this, "Api", {
      apiName: Stack.of(this).stackName,
      description: "Chat: WebSocket API",
      routeSelectionExpression: ROUTE_SELECTION_EXPRESSION,
    });
    const authorizer = new WebSocketLambdaAuthorizer("TokenAuthorizer", props.authorizerHandler, {
      identitySource: [TOKEN_IDENTITY_SOURCES[props.tokenTransport ?? TokenTransport.Query]],
    });
    // Client actions come from the protocol, so a new action gets its route without touching the stack. They and
    // $default share one integration: the message handler reads the action itself.
    const message = new WebSocketLambdaIntegration("Message", props.messageHandler);
    const routes: Partial<Record<RouteKey, WebSocketRoute>> = {
      [RouteKey.Connect]: this.api.addRoute(RouteKey.Connect, {
        integration: new WebSocketLambdaIntegration("Connect", props.connectHandler),
        authorizer,
      }),
      [RouteKey.Disconnect]: this.api.addRoute(RouteKey.Disconnect, {
        integration: new WebSocketLambdaIntegration("Disconnect", props.disconnectHandler),
      }),
      [RouteKey.Default]: this.api.addRoute(RouteKey.Default, { integration: message }),
    };
    for (const action of CLIENT_ACTIONS) routes[action] = this.api.addRoute(action, { integration: message });
    this.routes = routes as Record<RouteKey, WebSocketRoute>;
    for (const [key, route] of Object.entries(this.routes)) {
      if (key === RouteKey.Connect) continue;
      Validations.of(route).acknowledge({
        id: "AwsSolutions-APIG4",
        reason:
          "WebSocket APIs authorize only $connect (the sole route that accepts an authorizer); every later frame " +
          "travels on a connection the $connect authorizer already allowed.",
      });
    }

    this.accessLogGroup = new LogGroup(this, "AccessLogs", {
      retention: props.accessLogRetention ?? RetentionDays.ONE_MONTH,
    });
    this.stage = new WebSocketStage(this, "Stage", {
      webSocketApi: this.api,
      stageName,
      autoDeploy: true,
      throttle,
      accessLogSettings: {
        destination: new LogGroupLogDestination(this.accessLogGroup),
        format: ACCESS_LOG_FORMAT,
      },
    });

    if (props.apiGatewayCloudWatchRole ?? true) {
      const role = new Role(this, "CloudWatchRole", {
        assumedBy: new ServicePrincipal("apigateway.amazonaws.com"),
        managedPolicies: [ManagedPolicy.fromAwsManagedPolicyName("service-role/AmazonAPIGatewayPushToCloudWatchLogs")],
      });
      role.applyRemovalPolicy(RemovalPolicy.RETAIN);
      Validations.of(role).acknowledge({
        id: "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]",
        reason:
          "The account-wide API Gateway logging role serves every API in the Region, whose log groups are not known " +
          "here; AWS's policy for exactly this role is the documented choice and AWS maintains it.",
      });
      const account = new CfnAccount(this, "Account", { cloudWatchRoleArn: role.roleArn });
      this.stage.node.addDependency(account);
    }
  }

  /** `wss://` URL clients connect to. */
  get url(): string {
    return this.stage.url;
  }

  /** `https://` management endpoint the handlers post to (`@connections`). */
  get callbackUrl(): string {
    return this.stage.callbackUrl;
  }

  /**
   * Lets `grantee` post to, read and close the connections of this stage only
   * (`execute-api:ManageConnections` on `<api>/<stage>/*\/@connections/*`).
   */
  grantManageConnections(grantee: IGrantable): Grant {
    const grant = this.stage.grantManagementApiAccess(grantee);
    const principal = grantee.grantPrincipal;
    if (Construct.isConstruct(principal)) {
      // cdk-nag names the finding after the resource as written, with `<LogicalId>` for the API's Ref.
      const api = Stack.of(this).resolve(this.api.apiId) as { Ref: string };
      Validations.of(principal).acknowledge({
        id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:execute-api:<AWS::Region>:<AWS::AccountId>:<${api.Ref}>/${this.stage.stageName}/*/@connections/*]`,
        reason:
          "Connection ids are created at run time, so the path ends in a wildcard; it is scoped to this API and stage, " +
          "and the wildcard before @connections stands for the HTTP method (POST, GET, DELETE).",
      });
    }
    return grant;
  }
}

/** One JSON object per request, so Logs Insights can query fields; includes why `$connect` was refused. */
const ACCESS_LOG_FORMAT = AccessLogFormat.custom(
  JSON.stringify({
    requestId: AccessLogField.contextRequestId(),
    requestTime: AccessLogField.contextRequestTime(),
    eventType: AccessLogField.contextEventType(),
    routeKey: AccessLogField.contextRouteKey(),
    connectionId: AccessLogField.contextConnectionId(),
    sourceIp: AccessLogField.contextIdentitySourceIp(),
    status: AccessLogField.contextStatus(),
    error: AccessLogField.contextErrorMessage(),
    authorizerError: AccessLogField.contextAuthorizerError(),
    integrationError: AccessLogField.contextIntegrationErrorMessage(),
    integrationLatency: AccessLogField.contextIntegrationLatency(),
  }),
);
