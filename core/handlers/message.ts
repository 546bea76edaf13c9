import { createManagementClient } from "../aws-clients.js";
import { Broadcaster, type BroadcastOptions } from "../broadcast.js";
import { parseClientRequest } from "../client-request.js";
import { type Clock, systemClock } from "../clock.js";
import type { ConnectionStore } from "../connection-store.js";
import { type ConnectionsApi, ManagementApiConnections, sendFrame } from "../connections-api.js";
import { type Env, EnvVar, requireEnv } from "../env.js";
import { InvalidRequestError } from "../errors.js";
import type { Logger } from "../logger.js";
import { MessageIdGenerator } from "../message-id.js";
import { ErrorCode, type MessageFrame } from "../protocol.js";
import type { WebSocketEvent, WebSocketResult } from "../websocket-event.js";
import { readAuthorizerContext } from "./authorizer-context.js";
import { type FromEnvOptions, loggerFromEnv, storeFromEnv } from "./env-deps.js";

export interface MessageDeps {
  store: Pick<ConnectionStore, "get" | "delete" | "scan">;
  connections: ConnectionsApi;
  clock: Clock;
  logger: Logger;
  broadcast?: BroadcastOptions;
}

/**
 * Every route after `$connect` but `$disconnect`: `sendmessage` and `$default`. Validates the frame, names the sender
 * from the authenticated identity (never the body), and broadcasts. A bad frame earns the sender an error frame.
 */
export function createMessageHandler(deps: MessageDeps) {
  const { store, connections, clock, logger } = deps;
  const ids = new MessageIdGenerator(clock);
  const broadcaster = new Broadcaster(connections, logger, deps.broadcast);

  // The authorizer context reaches later routes on AWS, but is not promised to: the record is the fallback.
  const senderOf = async (event: WebSocketEvent): Promise<MessageFrame["sender"] | undefined> => {
    const identity = readAuthorizerContext(event) ?? (await store.get(event.requestContext.connectionId));
    return identity && { userId: identity.userId, ...(identity.name ? { name: identity.name } : {}) };
  };

  return async (event: WebSocketEvent): Promise<WebSocketResult> => {
    const { connectionId, requestId, routeKey } = event.requestContext;
    const log = logger.child({ connectionId, requestId, routeKey });
    try {
      const request = parseClientRequest(event.body);
      const sender = await senderOf(event);
      if (!sender) {
        throw new InvalidRequestError(ErrorCode.Unauthenticated, "This connection is no longer signed in.");
      }
      const frame: MessageFrame = {
        type: "message",
        id: ids.next(),
        sender,
        text: request.text,
        sentAt: new Date(clock()).toISOString(),
      };
      const result = await broadcaster.send({
        recipients: connectionIds(store.scan()),
        data: JSON.stringify(frame),
        onGone: (goneId) => store.delete(goneId),
      });
      log.info("message broadcast", { messageId: frame.id, userId: sender.userId, ...result });
      return { statusCode: 200 };
    } catch (err) {
      if (err instanceof InvalidRequestError) {
        log.info("request refused", { code: err.code });
        await reply(connections, connectionId, err.code, err.message, log);
        return { statusCode: 400 };
      }
      log.error("message handling failed", { error: err });
      await reply(connections, connectionId, ErrorCode.InternalError, "The message could not be sent.", log);
      return { statusCode: 500 };
    }
  };
}

async function* connectionIds(pages: AsyncIterable<{ connectionId: string }[]>): AsyncGenerator<string[]> {
  for await (const page of pages) yield page.map((recipient) => recipient.connectionId);
}

/** Sends the sender an error frame; a sender who has gone meanwhile is not worth more than a log line. */
async function reply(api: ConnectionsApi, connectionId: string, code: ErrorCode, message: string, log: Logger) {
  await sendFrame(api, connectionId, { type: "error", code, message }).catch((err: unknown) =>
    log.warn("could not send error frame", { error: err }),
  );
}

export function messageFromEnv(env: Env, options: FromEnvOptions = {}) {
  const clock = options.clock ?? systemClock;
  return createMessageHandler({
    store: storeFromEnv(env, clock),
    connections: new ManagementApiConnections(
      createManagementClient({ endpoint: requireEnv(env, EnvVar.CallbackUrl) }),
    ),
    clock,
    logger: options.logger ?? loggerFromEnv(env),
  });
}
