import type { Env } from "../core/env.js";
import { authorizerFromEnv } from "../core/handlers/authorizer.js";
import { connectFromEnv } from "../core/handlers/connect.js";
import { disconnectFromEnv } from "../core/handlers/disconnect.js";
import { messageFromEnv } from "../core/handlers/message.js";
import type { Logger } from "../core/logger.js";
import { CLIENT_ACTIONS, RouteKey } from "../core/protocol.js";
import type { RouteTable } from "./gateway.js";
import type { AuthorizerHandler, RouteHandler } from "./invoker.js";

/** The four Lambda handlers. */
export interface SandboxHandlers {
  authorizer: AuthorizerHandler;
  connect: RouteHandler;
  disconnect: RouteHandler;
  /** Serves every client action and `$default`. */
  message: RouteHandler;
}

/**
 * The very handlers Lambda runs, built the way `lambdas/*.ts` build them but from the sandbox's environment, and
 * once, as a warm Lambda keeps them (the JWKS cache lives in the authorizer). Plain http to a loopback JWKS is
 * allowed: the sandbox's issuer is on loopback. A remote http JWKS is still refused by the core.
 */
export function createHandlers(env: Env, logger: Logger): SandboxHandlers {
  return {
    authorizer: authorizerFromEnv(env, { logger, allowInsecureLoopback: true }),
    connect: connectFromEnv(env, { logger }),
    disconnect: disconnectFromEnv(env, { logger }),
    message: messageFromEnv(env, { logger, allowInsecureLoopback: true }),
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
