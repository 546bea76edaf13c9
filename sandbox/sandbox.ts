import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { type Clock, systemClock } from "../core/clock.js";
import { type Env, EnvVar } from "../core/env.js";
import { rateLimitFromEnv } from "../core/handlers/chat-from-env.js";
import type { LogLevel, LogSink } from "../core/logger.js";
import { Limits, ROUTE_SELECTION_EXPRESSION, TOKEN_IDENTITY_SOURCES, TokenTransport } from "../core/protocol.js";
import type { SiteConfig } from "../core/site-config.js";
import { type AuthOptions, checkAuthOptions, createAuthBackend } from "./auth-backend.js";
import { type ConnectionInfo, ConnectionRegistry } from "./connection-registry.js";
import { type DevIssuer, generateSigningKey } from "./dev-issuer.js";
import { type DynamoOptions, startDynamo } from "./dynamo.js";
import { type DynamoFaults, startDynamoFaultProxy } from "./dynamo-faults.js";
import { SandboxStartError } from "./errors.js";
import { LocalFanoutQueue } from "./fanout-queue.js";
import { type ConnectionEnd, Gateway } from "./gateway.js";
import { createHandlers, routeTable, type SandboxHandlers } from "./handlers.js";
import { createPageHandler } from "./http-server.js";
import { parseIdentitySource } from "./identity-source.js";
import { apiId } from "./ids.js";
import { InFlight } from "./in-flight.js";
import { type InvocationObserver, Invoker } from "./invoker.js";
import { createManagementApi } from "./management-api.js";
import { ManagementFaults } from "./management-faults.js";
import { placeholderPage } from "./placeholder-page.js";
import { SandboxLog } from "./sandbox-log.js";
import { closeServer, listenOn } from "./server-lifecycle.js";
import { urlHost } from "./url-host.js";

/** How the emulated API Gateway behaves; every limit as on AWS unless changed (tests shorten the timeouts). */
export interface GatewaySettings {
  /** @default 600000 (10 minutes) */
  idleTimeoutMs: number;
  /** @default 7200000 (2 hours) */
  maxConnectionAgeMs: number;
  /** A handler that runs longer gives the client an error, as API Gateway's 29 s limit does. @default 29000 */
  integrationTimeoutMs: number;
  /** Client frames larger close the socket with 1009. @default Limits.maxFrameBytes (32 KB) */
  maxFrameBytes: number;
  /** Whether message and disconnect events carry `requestContext.authorizer`, as on AWS. @default true */
  forwardAuthorizerContext: boolean;
  /** In method ARNs. @default "us-east-1" */
  region: string;
  /** In method ARNs. @default "000000000000" */
  accountId: string;
}

export interface SandboxOptions {
  /** The page's port; 0 picks a free one. @default 3000 */
  port?: number;
  /** The gateway's port (WebSocket and management API). @default port + 1, or a free one when port is 0 */
  gatewayPort?: number;
  /** Interface to listen on. Loopback, because the development issuer signs tokens for anyone who asks. @default "127.0.0.1" */
  host?: string;
  /** @default "prod" */
  stage?: string;
  /** @default { kind: "development" } */
  auth?: AuthOptions;
  /** @default { kind: "dynalite" } */
  dynamo?: DynamoOptions;
  /** @default "chat-connections" */
  tableName?: string;
  /** @default "chat-rooms" */
  roomsTableName?: string;
  /**
   * Put a proxy between the handlers and DynamoDB that can answer chosen calls with throttling errors or delays
   * (`hooks.dynamoFaults`). @default false: the handlers talk to DynamoDB directly
   */
  injectDynamoFaults?: boolean;
  /** The built web page. @default - a placeholder page that says the page is not built */
  webRoot?: string;
  /** @default "Chat" */
  appName?: string;
  /** Where clients put the token at `$connect`, as the stack's `tokenTransport` setting. @default "query" */
  tokenTransport?: TokenTransport;
  gateway?: Partial<GatewaySettings>;
  /** More environment for the handlers (`MESSAGE_BURST`, ...). The variables the sandbox sets win. */
  handlerEnv?: Env;
  /**
   * Handlers to use instead of the real ones, for gateway behaviour the real ones never trigger; or a function that
   * gets the real ones and returns replacements (to wrap them, e.g. to hold `$connect` open).
   */
  handlers?: Partial<SandboxHandlers> | ((real: SandboxHandlers) => Partial<SandboxHandlers>);
  /** Fan-out worker invocations at once (the queue's Lambda concurrency). @default 4 */
  fanoutWorkers?: number;
  /**
   * Recipients per fan-out batch (`FANOUT_BATCH_SIZE`): a broadcast sends the first batch itself and queues the rest
   * for the workers. Wins over `handlerEnv`. @default core's 1000
   */
  fanoutBatchSize?: number;
  /** Told of every handler invocation, with the event and the outcome. */
  onInvoke?: InvocationObserver;
  /** For the handlers and the readable log. @default "info" */
  logLevel?: LogLevel;
  /** Readable log lines. @default stdout */
  log?: LogSink;
  /** Also gets every JSON line the handlers log (at `logLevel`), before the readable log picks fields from it. */
  handlerLog?: LogSink;
  /**
   * The time of the gateway, the handlers and the development issuer. Tests move it forward to pass grace periods
   * and expiries without waiting; socket timers (idle, maximum age, integration timeout) run on real time.
   * @default Date.now
   */
  clock?: Clock;
}

export interface SandboxUrls {
  page: string;
  config: string;
  /** What clients open: `ws://127.0.0.1:<gateway port>/<stage>`. */
  webSocket: string;
  /** The management API endpoint (`CALLBACK_URL`); the SDK appends `/@connections/{id}`. */
  management: string;
  jwks: string;
  issuer: string;
  dynamodb: string;
}

/** For tests, benchmarks and fault injection. Not reachable over the network. */
export interface SandboxHooks {
  /** Open connections as the gateway sees them. */
  connections(): ConnectionInfo[];
  /**
   * Cuts a connection's socket without a close frame and without running `$disconnect`: a client that vanished and
   * a `$disconnect` AWS never ran. Its record stays until a broadcast meets the 410. False if it is not open.
   */
  dropConnection(connectionId: string): boolean;
  /**
   * Resolves once the connection has ended and `$disconnect` has returned (at once for a dropped one). Ask while
   * the connection is still known: it rejects for an id the gateway has forgotten.
   */
  whenEnded(connectionId: string): Promise<ConnectionEnd>;
  /** Errors and delays the management API answers with, per connection and method. */
  readonly faults: ManagementFaults;
  /** Errors and delays DynamoDB answers the handlers with, per operation; only with `injectDynamoFaults`. */
  readonly dynamoFaults: DynamoFaults | undefined;
  /** Resolves when no handler is running and no fan-out batch is waiting for a worker. */
  idle(): Promise<void>;
}

export interface Sandbox {
  readonly urls: SandboxUrls;
  /** The development issuer, for signing tokens with chosen claims; undefined with an external issuer. */
  readonly devIssuer: DevIssuer | undefined;
  readonly dynamo: {
    readonly client: DynamoDBDocumentClient;
    readonly tableName: string;
    readonly endpoint: string;
    readonly description: string;
  };
  /** The environment the handlers were built from. */
  readonly env: Readonly<Env>;
  /** What the authorizer trusts, for the start banner. */
  readonly authDescription: readonly string[];
  readonly hooks: SandboxHooks;
  /** Closes every socket (running `$disconnect`), the servers and DynamoDB. Safe to call twice. */
  close(): Promise<void>;
}

const SHUTDOWN_WAIT_MS = 5000;
/** The stack's fan-out settings (`lib/fanout-workers.ts`): receives before the dead-letter queue, worker timeout. */
const FANOUT_MAX_RECEIVES = 3;
const FANOUT_WORKER_TIMEOUT_MS = 60_000;
const DEFAULT_FANOUT_WORKERS = 4;

/**
 * Starts the chat locally: DynamoDB, the page server, the emulated API Gateway with its management API, and the
 * real handlers configured through the same environment variables Lambda gets. Everything belongs to the returned
 * sandbox, so several can run in one process.
 */
export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const clock = options.clock ?? systemClock;
  const host = options.host ?? "127.0.0.1";
  const stage = options.stage ?? "prod";
  const port = options.port ?? 3000;
  const settings: GatewaySettings = {
    idleTimeoutMs: Limits.idleTimeoutSeconds * 1000,
    maxConnectionAgeMs: Limits.maxConnectionSeconds * 1000,
    integrationTimeoutMs: 29_000,
    maxFrameBytes: Limits.maxFrameBytes,
    forwardAuthorizerContext: true,
    region: "us-east-1",
    accountId: "000000000000",
    ...options.gateway,
  };
  const log = new SandboxLog({
    sink: options.log,
    level: options.logLevel,
    clock,
    handlerSink: options.handlerLog,
  });
  const fanoutWorkers = options.fanoutWorkers ?? DEFAULT_FANOUT_WORKERS;
  if (!Number.isInteger(fanoutWorkers) || fanoutWorkers < 1) {
    throw new SandboxStartError(
      "fan-out workers",
      `fanoutWorkers must be a whole number above 0, got ${fanoutWorkers}`,
    );
  }
  const tokenTransport = options.tokenTransport ?? TokenTransport.Query;
  const authOptions = options.auth ?? { kind: "development" };
  checkAuthOptions(authOptions);
  // Making an RSA key takes a few hundred ms: let it run while DynamoDB and the servers start.
  const signingKey = authOptions.kind === "development" && !authOptions.signingKey ? generateSigningKey() : undefined;
  signingKey?.catch(() => {});
  const undo: (() => Promise<void>)[] = [];
  const unwind = () => Promise.allSettled(undo.reverse().map((step) => step()));

  try {
    const dynamo = await startDynamo(
      options.dynamo ?? { kind: "dynalite" },
      { connections: options.tableName ?? "chat-connections", rooms: options.roomsTableName ?? "chat-rooms" },
      host,
    );
    undo.push(() => dynamo.close());
    const dynamoProxy = options.injectDynamoFaults ? await startDynamoFaultProxy(dynamo.endpoint, host) : undefined;
    if (dynamoProxy) undo.push(() => dynamoProxy.close());

    // Requests that arrive before everything is wired get 503 rather than hanging.
    let servePage = notReady;
    let serveManagement = notReady;
    const pageServer = createServer((req, res) => servePage(req, res));
    const gatewayServer = createServer((req, res) => serveManagement(req, res));
    // The broadcaster keeps sockets to the management API open; a server-side keep-alive timeout would race it.
    gatewayServer.keepAliveTimeout = 0;
    const pagePort = await listen(pageServer, port, host, "page server (PORT)");
    undo.push(() => closeServer(pageServer));
    const gatewayPort = await listen(
      gatewayServer,
      options.gatewayPort ?? (port === 0 ? 0 : port + 1),
      host,
      "gateway",
    );
    undo.push(() => closeServer(gatewayServer));

    const hostInUrl = urlHost(host);
    const pageOrigin = `http://${hostInUrl}:${pagePort}`;
    const appName = options.appName ?? "Chat";
    const auth = await createAuthBackend(authOptions, { pageOrigin, appName, clock }, signingKey);
    const urls: SandboxUrls = {
      page: `${pageOrigin}/`,
      config: `${pageOrigin}/config.json`,
      webSocket: `ws://${hostInUrl}:${gatewayPort}/${stage}`,
      management: `http://${hostInUrl}:${gatewayPort}/${stage}`,
      jwks: auth.jwksUri,
      issuer: auth.issuer,
      dynamodb: dynamo.endpoint,
    };
    const env: Env = {
      ...options.handlerEnv,
      [EnvVar.TableName]: dynamo.tableName,
      [EnvVar.RoomsTableName]: dynamo.roomsTableName,
      [EnvVar.CallbackUrl]: urls.management,
      [EnvVar.JwksUri]: auth.jwksUri,
      [EnvVar.Issuer]: auth.issuer,
      [EnvVar.LogLevel]: options.logLevel ?? "info",
      [EnvVar.DynamoDbEndpoint]: dynamoProxy?.endpoint ?? dynamo.endpoint,
      ...(options.fanoutBatchSize === undefined ? {} : { [EnvVar.FanoutBatchSize]: String(options.fanoutBatchSize) }),
    };

    const registry = new ConnectionRegistry();
    const inFlight = new InFlight();
    const faults = new ManagementFaults();
    const invoker = new Invoker({
      timeoutMs: settings.integrationTimeoutMs,
      inFlight,
      clock,
      onInvoke: options.onInvoke,
    });
    // The queue calls the worker handler, which is built with the queue: bound once both exist.
    const fanoutQueue = new LocalFanoutQueue({
      workers: fanoutWorkers,
      maxReceives: FANOUT_MAX_RECEIVES,
      region: settings.region,
      accountId: settings.accountId,
      invoke: (event) => invoker.worker(handlers.fanoutWorker, event, FANOUT_WORKER_TIMEOUT_MS),
      inFlight,
      clock,
      log,
    });
    undo.push(async () => fanoutQueue.close());
    const real = createHandlers(env, log.handlerLogger, { clock, fanoutQueue });
    const replaced = typeof options.handlers === "function" ? options.handlers(real) : options.handlers;
    const handlers: SandboxHandlers = { ...real, ...replaced };

    const gateway = new Gateway({
      stage: { apiId: apiId(), stage, region: settings.region, accountId: settings.accountId },
      registry,
      inFlight,
      invoker,
      authorizer: handlers.authorizer,
      routes: routeTable(handlers),
      routeSelectionExpression: ROUTE_SELECTION_EXPRESSION,
      identitySource: parseIdentitySource(TOKEN_IDENTITY_SOURCES[tokenTransport]),
      limits: settings,
      maxFrameBytes: settings.maxFrameBytes,
      forwardAuthorizerContext: settings.forwardAuthorizerContext,
      clock,
      log,
    });
    serveManagement = createManagementApi({
      stage,
      registry,
      faults,
      maxPostBytes: Limits.maxPostBytes,
      close: (connectionId) => gateway.close(connectionId, "management-api"),
    });
    gatewayServer.on("upgrade", gateway.handleUpgrade);
    const siteConfig: SiteConfig = {
      webSocketUrl: urls.webSocket,
      tokenTransport,
      auth: auth.webConfig,
      appName,
      rateLimit: rateLimitFromEnv(env),
    };
    servePage = createPageHandler({
      webRoot: options.webRoot,
      webConfig: siteConfig,
      auth,
      onError: (path, error) => log.pageFailed(path, error),
      placeholderHtml: placeholderPage({
        urls: { Config: urls.config, WebSocket: urls.webSocket, "Management API": urls.management, JWKS: urls.jwks },
        authLines: auth.describe(),
      }),
    });

    let closing: Promise<void> | undefined;
    return {
      urls,
      devIssuer: auth.devIssuer,
      dynamo,
      env,
      authDescription: auth.describe(),
      hooks: {
        connections: () => registry.info().filter((connection) => connection.state === "open"),
        dropConnection: (connectionId) => gateway.drop(connectionId),
        whenEnded: (connectionId) => gateway.whenEnded(connectionId),
        faults,
        dynamoFaults: dynamoProxy?.faults,
        // Queued fan-out batches count as in flight from enqueue until a worker is done with them.
        idle: () => inFlight.idle(),
      },
      close() {
        closing ??= (async () => {
          await gateway.shutdown();
          // `$disconnect` handlers still need DynamoDB; give them a moment, not forever.
          await Promise.race([
            inFlight.idle(),
            new Promise((resolve) => setTimeout(resolve, SHUTDOWN_WAIT_MS).unref()),
          ]);
          await unwind();
        })();
        return closing;
      },
    };
  } catch (err) {
    await unwind();
    throw err;
  }
}

function notReady(_req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(503, { "Content-Type": "application/json", "Retry-After": "1" });
  res.end(JSON.stringify({ message: "The sandbox is starting." }));
}

async function listen(server: Server, port: number, host: string, what: string): Promise<number> {
  try {
    return await listenOn(server, port, host);
  } catch (err) {
    const { code, message } = err as NodeJS.ErrnoException;
    const detail = code === "EADDRINUSE" ? `port ${port} on ${host} is in use; choose another port` : message;
    throw new SandboxStartError(what, detail, err);
  }
}
