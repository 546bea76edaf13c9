import { systemClock } from "../clock.js";
import type { ConnectionStore } from "../connection-store.js";
import type { Env } from "../env.js";
import type { Logger } from "../logger.js";
import type { WebSocketEvent, WebSocketResult } from "../websocket-event.js";
import { type FromEnvOptions, loggerFromEnv, storeFromEnv } from "./env-deps.js";

export interface DisconnectDeps {
  store: Pick<ConnectionStore, "delete">;
  logger: Logger;
}

/** `$disconnect`: forgets the connection. Best effort on AWS; TTL and 410 clean-up cover the times it never runs. */
export function createDisconnectHandler({ store, logger }: DisconnectDeps) {
  return async (event: WebSocketEvent): Promise<WebSocketResult> => {
    const { connectionId, requestId } = event.requestContext;
    await store.delete(connectionId);
    logger.info("disconnected", { connectionId, requestId });
    return { statusCode: 200 };
  };
}

export function disconnectFromEnv(env: Env, options: FromEnvOptions = {}) {
  return createDisconnectHandler({
    store: storeFromEnv(env, options.clock ?? systemClock),
    logger: options.logger ?? loggerFromEnv(env),
  });
}
