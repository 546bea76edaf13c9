import { type ChatService, SessionEndedError } from "../chat-service.js";
import { parseClientRequest } from "../client-request.js";
import { systemClock } from "../clock.js";
import { type ConnectionsApi, isGone, sendFrame } from "../connections-api.js";
import type { Env } from "../env.js";
import { InvalidRequestError } from "../errors.js";
import { type Logger, loggerFromEnv } from "../logger.js";
import { ErrorCode } from "../protocol.js";
import { verifierFromEnv } from "../token-verifier.js";
import type { WebSocketEvent, WebSocketResult } from "../websocket-event.js";
import { chatServiceFromEnv, managementFromEnv } from "./chat-from-env.js";
import type { FromEnvOptions } from "./env-deps.js";

export interface MessageDeps {
  chat: Pick<ChatService, "handle">;
  api: ConnectionsApi;
  logger: Logger;
}

/**
 * Every route after `$connect` but `$disconnect`: `sendmessage`, `join`, `leave`, `history`, `refresh` and
 * `$default`. A bad frame earns the sender an error frame; an ended session is told so and closed.
 */
export function createMessageHandler({ chat, api, logger }: MessageDeps) {
  return async (event: WebSocketEvent): Promise<WebSocketResult> => {
    const { connectionId, requestId, routeKey } = event.requestContext;
    const log = logger.child({ connectionId, requestId, routeKey });
    let room: string | undefined;
    try {
      const request = parseClientRequest(event.body);
      room = "room" in request ? request.room : undefined;
      await chat.handle(connectionId, request, log);
      return { statusCode: 200 };
    } catch (err) {
      if (err instanceof InvalidRequestError) {
        log.info("request refused", { code: err.code });
        await reply(api, connectionId, { code: err.code, message: err.message, room }, log);
        if (err instanceof SessionEndedError) {
          await api.close(connectionId).catch((closeErr: unknown) => log.warn("close failed", { error: closeErr }));
        }
        return { statusCode: 400 };
      }
      if (isGone(err)) {
        // The sender's own socket closed while it was being answered (a tab closed during a join): nobody to tell.
        log.info("the sender left before its answer", { error: err });
        return { statusCode: 200 };
      }
      log.error("message handling failed", { error: err });
      await reply(api, connectionId, { code: ErrorCode.InternalError, message: "That did not work.", room }, log);
      return { statusCode: 500 };
    }
  };
}

/** Sends the sender an error frame; a sender who has gone meanwhile is not worth more than a log line. */
async function reply(
  api: ConnectionsApi,
  connectionId: string,
  error: { code: ErrorCode; message: string; room: string | undefined },
  log: Logger,
) {
  const frame = { type: "error" as const, code: error.code, message: error.message };
  await sendFrame(api, connectionId, error.room ? { ...frame, room: error.room } : frame).catch((err: unknown) =>
    log.warn("could not send error frame", { error: err }),
  );
}

export function messageFromEnv(env: Env, options: FromEnvOptions & { allowInsecureLoopback?: boolean } = {}) {
  const logger = options.logger ?? loggerFromEnv(env);
  const api = managementFromEnv(env);
  const chat = chatServiceFromEnv(env, {
    api,
    clock: options.clock ?? systemClock,
    logger,
    verifier: verifierFromEnv(env, options),
    fanoutQueue: options.fanoutQueue,
  });
  return createMessageHandler({ chat, api, logger });
}
