import { fileURLToPath } from "node:url";
import { Stack, Token, Validations } from "aws-cdk-lib";
import { AccessLogField, AccessLogFormat } from "aws-cdk-lib/aws-apigateway";
import {
  type CfnStage,
  HttpApi,
  HttpMethod,
  HttpStage,
  LogGroupLogDestination,
  type ThrottleSettings,
} from "aws-cdk-lib/aws-apigatewayv2";
import { HttpLambdaIntegration } from "aws-cdk-lib/aws-apigatewayv2-integrations";
import { PolicyStatement } from "aws-cdk-lib/aws-iam";
import { LogGroup, RetentionDays } from "aws-cdk-lib/aws-logs";
import { StringParameter } from "aws-cdk-lib/aws-ssm";
import { Construct } from "constructs";
import { AUTH_BASE_PATH } from "../core/site-config.js";
import { SuperTokensEnvVar } from "../core/supertokens-backend.js";
import { ChatFunction } from "./chat-function.js";

/** Stage throttling when none is given: sign-in and sign-up are a few requests per user a day. */
export const DEFAULT_AUTH_THROTTLE = { rateLimit: 25, burstLimit: 50 } as const satisfies ThrottleSettings;

/**
 * Throttling of each of the routes that keep sessions going, when none is given: the session refresh (every open page,
 * about once an hour, and after every reconnect) and the JWKS (authorizers on a cold start or a key rotation, once
 * CloudFront's copy expires).
 */
export const DEFAULT_SESSION_THROTTLE = { rateLimit: 100, burstLimit: 200 } as const satisfies ThrottleSettings;

/** The routes that keep sessions going, each with a throttle of its own (`sessionThrottle`). */
export const SESSION_ROUTES = [
  { method: HttpMethod.POST, path: `${AUTH_BASE_PATH}/session/refresh` },
  { method: HttpMethod.GET, path: `${AUTH_BASE_PATH}/jwt/jwks.json` },
] as const;

/** Properties of a `ChatAuthApi`. */
export interface ChatAuthApiProps {
  /** SuperTokens core URL (several may be joined with `;`), e.g. `https://try.supertokens.com`. */
  readonly connectionUri: string;

  /**
   * Name of an SSM SecureString parameter, in this account and Region, that holds the core's API key. The function
   * gets the name and reads the value at cold start. With a customer managed KMS key, also allow the function's role
   * to decrypt with it.
   *
   * @default - the core is called without an API key (the demo core and cores that have none)
   */
  readonly apiKeyParameterName?: string;

  /**
   * `appInfo.appName`.
   *
   * @default "Chat"
   */
  readonly appName?: string;

  /**
   * Name of the SSM parameter that `setSiteOrigin` writes and the function reads. It must be a literal: a reference
   * would make the function depend on the distribution, which depends on this API.
   *
   * @default "/<stack name>/site-origin"
   */
  readonly siteOriginParameterName?: string;

  /**
   * Default throttling of the API's stage: sign-up, sign-in, sign-out. A field left out takes its default.
   *
   * @default DEFAULT_AUTH_THROTTLE: rateLimit 25 requests/s, burstLimit 50
   */
  readonly throttle?: ThrottleSettings;

  /**
   * Throttling of each route that keeps sessions going (`SESSION_ROUTES`: the session refresh, the JWKS), apart from
   * the rest, so that a flood of sign-in attempts cannot stop open pages from renewing or authorizers from getting
   * keys. A field left out takes its default.
   *
   * @default DEFAULT_SESSION_THROTTLE: rateLimit 100 requests/s, burstLimit 200, for each
   */
  readonly sessionThrottle?: ThrottleSettings;

  /**
   * How long the API's access logs are kept.
   *
   * @default RetentionDays.ONE_MONTH
   */
  readonly accessLogRetention?: RetentionDays;
}

/**
 * The SuperTokens backend (`lambdas/auth-api.ts`: supertokens-node with EmailPassword and Session) behind an HTTP
 * API at `/auth/{proxy+}`, meant to be served through the site's CloudFront distribution so that page and auth share
 * one origin. Call `setSiteOrigin` with that origin once the distribution exists.
 */
export class ChatAuthApi extends Construct {
  /** Path under which the API serves SuperTokens' routes; the token's `iss` is `<site origin><basePath>`. */
  static readonly BASE_PATH = AUTH_BASE_PATH;

  readonly handler: ChatFunction;
  readonly httpApi: HttpApi;
  readonly stage: HttpStage;
  readonly accessLogGroup: LogGroup;
  readonly siteOriginParameterName: string;
  private siteOrigin?: StringParameter;

  constructor(scope: Construct, id: string, props: ChatAuthApiProps) {
    super(scope, id);
    const stack = Stack.of(this);
    this.siteOriginParameterName = props.siteOriginParameterName ?? `/${stack.stackName}/site-origin`;
    if (Token.isUnresolved(this.siteOriginParameterName)) {
      throw new Error("siteOriginParameterName must be a literal: a reference would make a dependency cycle");
    }

    this.handler = new ChatFunction(this, "Handler", {
      entry: fileURLToPath(new URL("../lambdas/auth-api.ts", import.meta.url)),
      description: "Chat: SuperTokens backend (sign-up, sign-in, sessions, JWKS) at /auth/*",
      // Cold starts load supertokens-node; CPU grows with memory.
      memorySize: 512,
      environment: {
        [SuperTokensEnvVar.ConnectionUri]: props.connectionUri,
        [SuperTokensEnvVar.SiteOriginParameter]: this.siteOriginParameterName,
        [SuperTokensEnvVar.AppName]: props.appName ?? "Chat",
        ...(props.apiKeyParameterName ? { [SuperTokensEnvVar.ApiKeyParameter]: props.apiKeyParameterName } : {}),
      },
    });
    // ARNs built from the names, not from the parameter resource, for the same reason as the literal name.
    const parameterArn = (name: string) =>
      stack.formatArn({ service: "ssm", resource: "parameter", resourceName: name.replace(/^\//, "") });
    this.handler.role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ["ssm:GetParameters"],
        resources: [this.siteOriginParameterName, props.apiKeyParameterName].flatMap((name) =>
          name ? [parameterArn(name)] : [],
        ),
      }),
    );

    this.httpApi = new HttpApi(this, "Api", {
      apiName: `${stack.stackName}-auth`,
      description: "Chat: SuperTokens backend, served through CloudFront at /auth/*",
      createDefaultStage: false,
    });
    const integration = new HttpLambdaIntegration("SuperTokens", this.handler.function);
    const routes = [
      ...this.httpApi.addRoutes({ path: `${AUTH_BASE_PATH}/{proxy+}`, methods: [HttpMethod.ANY], integration }),
      // The same function; routes of their own only for their own throttles.
      ...SESSION_ROUTES.flatMap(({ method, path }) => this.httpApi.addRoutes({ path, methods: [method], integration })),
    ];
    for (const route of routes) {
      Validations.of(route).acknowledge({
        id: "AwsSolutions-APIG4",
        reason:
          "This API is the sign-in itself: sign-up, sign-in, session refresh and the JWKS must be reachable without a " +
          "session. supertokens-node checks the session cookie on the routes that need one (sign-out).",
      });
    }

    this.accessLogGroup = new LogGroup(this, "AccessLogs", {
      retention: props.accessLogRetention ?? RetentionDays.ONE_MONTH,
    });
    // $default: no stage segment in the path, so supertokens-node needs no apiGatewayPath.
    this.stage = new HttpStage(this, "Stage", {
      httpApi: this.httpApi,
      stageName: "$default",
      autoDeploy: true,
      throttle: {
        rateLimit: props.throttle?.rateLimit ?? DEFAULT_AUTH_THROTTLE.rateLimit,
        burstLimit: props.throttle?.burstLimit ?? DEFAULT_AUTH_THROTTLE.burstLimit,
      },
      accessLogSettings: { destination: new LogGroupLogDestination(this.accessLogGroup), format: ACCESS_LOG_FORMAT },
    });
    // The L2 stage sets only the default throttle; per-route settings are the CloudFormation stage's.
    const sessionThrottle = {
      ThrottlingRateLimit: props.sessionThrottle?.rateLimit ?? DEFAULT_SESSION_THROTTLE.rateLimit,
      ThrottlingBurstLimit: props.sessionThrottle?.burstLimit ?? DEFAULT_SESSION_THROTTLE.burstLimit,
    };
    (this.stage.node.defaultChild as CfnStage).routeSettings = Object.fromEntries(
      SESSION_ROUTES.map(({ method, path }) => [`${method} ${path}`, sessionThrottle]),
    );
    // API Gateway refuses settings for a route it does not have yet.
    this.stage.node.addDependency(...routes);

    this.node.addValidation({
      validate: () =>
        this.siteOrigin ? [] : ["setSiteOrigin() was never called: the auth function would not know its origin"],
    });
  }

  /** Host name of the API's endpoint, for a CloudFront origin. */
  get domainName(): string {
    const stack = Stack.of(this);
    return `${this.httpApi.apiId}.execute-api.${stack.region}.${stack.urlSuffix}`;
  }

  /**
   * Writes the site origin (`https://<distribution domain>`), which is the function's `apiDomain` and
   * `websiteDomain`, to the parameter it reads at cold start.
   */
  setSiteOrigin(origin: string): StringParameter {
    if (this.siteOrigin) throw new Error("setSiteOrigin() was already called");
    this.siteOrigin = new StringParameter(this, "SiteOrigin", {
      parameterName: this.siteOriginParameterName,
      stringValue: origin,
      description: "Origin of the chat site, read by the SuperTokens backend as its apiDomain and websiteDomain",
    });
    return this.siteOrigin;
  }
}

/** One JSON object per request, so Logs Insights can query fields. No cookies, no query strings. */
const ACCESS_LOG_FORMAT = AccessLogFormat.custom(
  JSON.stringify({
    requestId: AccessLogField.contextRequestId(),
    requestTime: AccessLogField.contextRequestTime(),
    sourceIp: AccessLogField.contextIdentitySourceIp(),
    method: AccessLogField.contextHttpMethod(),
    path: AccessLogField.contextPath(),
    status: AccessLogField.contextStatus(),
    responseLength: AccessLogField.contextResponseLength(),
    integrationLatency: AccessLogField.contextIntegrationLatency(),
    integrationError: AccessLogField.contextIntegrationErrorMessage(),
  }),
);
