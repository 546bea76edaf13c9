import { Duration, Token } from "aws-cdk-lib";
import { Role, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { Architecture, Runtime } from "aws-cdk-lib/aws-lambda";
import { NodejsFunction, OutputFormat } from "aws-cdk-lib/aws-lambda-nodejs";
import { LogGroup, RetentionDays } from "aws-cdk-lib/aws-logs";
import { Construct } from "constructs";
import { EnvVar } from "../core/env.js";
import { ESM_REQUIRE_SHIM } from "./bundling.js";

/** Longest a WebSocket route integration may run: API Gateway answers the client with an error after it. */
export const MAX_INTEGRATION_TIMEOUT = Duration.seconds(29);

/** Properties of a `ChatFunction`. */
export interface ChatFunctionProps {
  /** Path of the TypeScript file that exports `handler`. */
  readonly entry: string;

  /**
   * What the function does, shown in the Lambda console.
   *
   * @default - no description
   */
  readonly description?: string;

  /**
   * Environment variables, in addition to `LOG_LEVEL` and `NODE_OPTIONS`.
   *
   * @default - none
   */
  readonly environment?: Record<string, string>;

  /**
   * Longest run. Route handlers are capped by `MAX_INTEGRATION_TIMEOUT` anyway.
   *
   * @default Duration.seconds(10)
   */
  readonly timeout?: Duration;

  /**
   * Memory, in MiB; CPU grows with it.
   *
   * @default 256
   */
  readonly memorySize?: number;

  /**
   * `LOG_LEVEL` given to the handler: `debug`, `info`, `warn` or `error`.
   *
   * @default "info"
   */
  readonly logLevel?: string;

  /**
   * How long the function's logs are kept.
   *
   * @default RetentionDays.ONE_MONTH
   */
  readonly logRetention?: RetentionDays;
}

/**
 * A handler with the house defaults: Node.js 24 on arm64, bundled by the local esbuild as minified ESM with source
 * maps, its own log group, and a role that may write only to that log group until it is granted more.
 */
export class ChatFunction extends Construct {
  static readonly RUNTIME = Runtime.NODEJS_24_X;

  readonly function: NodejsFunction;
  /** The function's role; grant permissions to it (or to `function`). */
  readonly role: Role;
  readonly logGroup: LogGroup;

  constructor(scope: Construct, id: string, props: ChatFunctionProps) {
    super(scope, id);
    const timeout = props.timeout ?? Duration.seconds(10);
    const memorySize = props.memorySize ?? 256;
    if (!timeout.isUnresolved() && (timeout.toMilliseconds() < 1000 || timeout.toSeconds() > 900)) {
      throw new Error(`timeout must be between 1 and 900 seconds, got ${timeout.toHumanString()}`);
    }
    if (!Token.isUnresolved(memorySize) && (!Number.isInteger(memorySize) || memorySize < 128 || memorySize > 10240)) {
      throw new Error(`memorySize must be a whole number of MiB from 128 to 10240, got ${memorySize}`);
    }

    this.logGroup = new LogGroup(this, "Logs", { retention: props.logRetention ?? RetentionDays.ONE_MONTH });
    // Our own role instead of the default one, which carries the AWSLambdaBasicExecutionRole managed policy
    // (logs on every log group in the account).
    this.role = new Role(this, "Role", { assumedBy: new ServicePrincipal("lambda.amazonaws.com") });
    this.logGroup.grants.write(this.role);

    this.function = new NodejsFunction(this, "Function", {
      entry: props.entry,
      handler: "handler",
      description: props.description,
      runtime: ChatFunction.RUNTIME,
      architecture: Architecture.ARM_64,
      timeout,
      memorySize,
      role: this.role,
      logGroup: this.logGroup,
      environment: {
        [EnvVar.LogLevel]: props.logLevel ?? "info",
        // Stack traces point into the TypeScript sources, not the minified bundle.
        NODE_OPTIONS: "--enable-source-maps",
        ...props.environment,
      },
      bundling: {
        format: OutputFormat.ESM,
        banner: ESM_REQUIRE_SHIM,
        // Prefer packages' ESM builds: they tree-shake.
        mainFields: ["module", "main"],
        minify: true,
        sourceMap: true,
        // Line mappings only: the sources themselves would double the bundle for no runtime use.
        sourcesContent: false,
      },
    });
  }
}
