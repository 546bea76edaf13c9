import type { ChatService } from "../chat-service.js";
import { systemClock } from "../clock.js";
import type { Env } from "../env.js";
import { type Logger, loggerFromEnv } from "../logger.js";
import type { WebSocketEvent, WebSocketResult } from "../websocket-event.js";
import { chatServiceFromEnv, managementFromEnv } from "./chat-from-env.js";
import type { FromEnvOptions } from "./env-deps.js";

export interface DisconnectDeps {
  chat: Pick<ChatService, "removeConnection">;
  logger: Logger;
}

/**
 * `$disconnect`: forgets the connection and tells its rooms when its user has gone. Best effort on AWS; TTLs and
 * the clean-up of gone connections during broadcasts cover the times it never runs.
 */
export function createDisconnectHandler({ chat, logger }: DisconnectDeps) {
  return async (event: WebSocketEvent): Promise<WebSocketResult> => {
    const { connectionId, requestId } = event.requestContext;
    await chat.removeConnection(connectionId, true);
    logger.info("disconnected", { connectionId, requestId });
    return { statusCode: 200 };
  };
}

export function disconnectFromEnv(env: Env, options: FromEnvOptions = {}) {
  const logger = options.logger ?? loggerFromEnv(env);
  return createDisconnectHandler({
    chat: chatServiceFromEnv(env, {
      api: managementFromEnv(env),
      clock: options.clock ?? systemClock,
      logger,
      fanoutQueue: options.fanoutQueue,
    }),
    logger,
  });
}
