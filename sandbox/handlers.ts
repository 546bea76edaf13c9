import type { Clock } from "../core/clock.js";
import type { Env } from "../core/env.js";
import type { FanoutQueue } from "../core/fanout-queue.js";
import { authorizerFromEnv } from "../core/handlers/authorizer.js";
import { connectFromEnv } from "../core/handlers/connect.js";
import { disconnectFromEnv } from "../core/handlers/disconnect.js";
import { fanoutWorkerFromEnv } from "../core/handlers/fanout-worker.js";
import { messageFromEnv } from "../core/handlers/message.js";
import type { Logger } from "../core/logger.js";
import { CLIENT_ACTIONS, RouteKey } from "../core/protocol.js";
import type { RouteTable } from "./gateway.js";
import type { AuthorizerHandler, QueueHandler, RouteHandler } from "./invoker.js";

/** The Lambda handlers of the stack. */
export interface SandboxHandlers {
  authorizer: AuthorizerHandler;
  connect: RouteHandler;
  disconnect: RouteHandler;
  /** Serves every client action and `$default`. */
  message: RouteHandler;
  /** Sends the batches of large broadcasts that the message and disconnect handlers queue. */
  fanoutWorker: QueueHandler;
}

/** What the sandbox hands the handlers besides their environment and logger. */
export interface HandlerDeps {
  /** The sandbox's clock, so tests can move the handlers' time (grace periods, expiry) without waiting. @default the system clock */
  clock?: Clock;
  /** The in-process stand-in for the stack's SQS queue. @default none: broadcasts are sent inline (or to `FANOUT_QUEUE_URL`) */
  fanoutQueue?: FanoutQueue;
}

/**
 * The very handlers Lambda runs, built the way `lambdas/*.ts` build them but from the sandbox's environment, and
 * once, as a warm Lambda keeps them (the JWKS cache lives in the authorizer). Plain http to a loopback JWKS is
 * allowed: the sandbox's issuer is on loopback. A remote http JWKS is still refused by the core.
 */
export function createHandlers(env: Env, logger: Logger, { clock, fanoutQueue }: HandlerDeps = {}): SandboxHandlers {
  return {
    authorizer: authorizerFromEnv(env, { logger, allowInsecureLoopback: true }),
    connect: connectFromEnv(env, { logger, clock }),
    disconnect: disconnectFromEnv(env, { logger, clock, fanoutQueue }),
    message: messageFromEnv(env, { logger, clock, fanoutQueue, allowInsecureLoopback: true }),
    fanoutWorker: fanoutWorkerFromEnv(env, { logger, clock, fanoutQueue }),
  };
}

/** Routes as the stack wires them: one route per client action and `$default`, all to the message handler. */
export function routeTable(handlers: SandboxHandlers): RouteTable {
  return {
    [RouteKey.Connect]: handlers.connect,
    [RouteKey.Disconnect]: handlers.disconnect,
    [RouteKey.Default]: handlers.message,
    ...Object.fromEntries(CLIENT_ACTIONS.map((action) => [action, handlers.message])),
  };
}
