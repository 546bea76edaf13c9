import { SQSClient } from "@aws-sdk/client-sqs";
import { createManagementClient } from "../aws-clients.js";
import { Broadcaster, type BroadcastOptions } from "../broadcast.js";
import { parseClientRequest } from "../client-request.js";
import { type Clock, systemClock, toEpochSeconds } from "../clock.js";
import type { ConnectionStore } from "../connection-store.js";
import type { ConnectionRecord } from "../connection-table.js";
import { type ConnectionsApi, ManagementApiConnections, sendFrame } from "../connections-api.js";
import { type Env, EnvVar, numberEnv, requireEnv } from "../env.js";
import { InvalidRequestError, TokenRejectedError } from "../errors.js";
import { DEFAULT_FANOUT_BATCH_SIZE, Fanout, type FanoutOptions } from "../fanout.js";
import { type FanoutQueue, SqsFanoutQueue } from "../fanout-queue.js";
import type { Logger } from "../logger.js";
import { MessageIdGenerator } from "../message-id.js";
import { ErrorCode, Limits, type MessageFrame, type RefreshRequest, type SendMessageRequest } from "../protocol.js";
import { type RateLimit, takeToken } from "../rate-limiter.js";
import { type TokenVerifier, verifierFromEnv } from "../token-verifier.js";
import type { WebSocketEvent, WebSocketResult } from "../websocket-event.js";
import { type FromEnvOptions, loggerFromEnv, storeFromEnv } from "./env-deps.js";

export interface MessageDeps {
  store: Pick<ConnectionStore, "get" | "delete" | "scan" | "renew" | "saveBucket">;
  connections: ConnectionsApi;
  /** Checks the token of a `refresh`. */
  verifier: Pick<TokenVerifier, "verify">;
  clock: Clock;
  logger: Logger;
  /** @default Limits.defaultMessageBurst and Limits.defaultMessagesPerSecond */
  rateLimit?: RateLimit;
  broadcast?: BroadcastOptions;
  /** Where batches past the first go; @default none: every broadcast is sent here */
  fanoutQueue?: FanoutQueue;
  fanout?: FanoutOptions;
}

/** Thrown to end a connection whose session is over: the sender gets the error frame, then the socket closes. */
class SessionEndedError extends InvalidRequestError {}

/**
 * Every route after `$connect` but `$disconnect`: `sendmessage`, `refresh` and `$default`. The connection record is
 * the source of truth for who is sending and until when: it outlives the token checked at connect, since `refresh`
 * extends it. A bad frame earns the sender an error frame; an expired session is told so and closed.
 */
export function createMessageHandler(deps: MessageDeps) {
  const { store, connections, verifier, clock, logger } = deps;
  const rateLimit = deps.rateLimit ?? {
    burst: Limits.defaultMessageBurst,
    perSecond: Limits.defaultMessagesPerSecond,
  };
  const ids = new MessageIdGenerator(clock);
  const fanout = new Fanout(
    new Broadcaster(connections, logger, deps.broadcast),
    deps.fanoutQueue,
    logger,
    deps.fanout,
  );

  async function sendMessage(connection: ConnectionRecord, request: SendMessageRequest, log: Logger) {
    await spendToken(connection);
    const frame: MessageFrame = {
      type: "message",
      id: ids.next(),
      sender: { userId: connection.userId, ...(connection.name ? { name: connection.name } : {}) },
      text: request.text,
      sentAt: new Date(clock()).toISOString(),
    };
    const result = await fanout.send({
      recipients: store.scan(),
      data: JSON.stringify(frame),
      onGone: (id) => store.delete(id),
      expiredAt: toEpochSeconds(clock()),
      onExpired: (id) => connections.close(id),
    });
    log.info("message broadcast", { messageId: frame.id, userId: connection.userId, ...result });
  }

  /** Takes a token from the connection's bucket; a concurrent message from the same connection means read again. */
  async function spendToken(connection: ConnectionRecord) {
    let current: ConnectionRecord | undefined = connection;
    for (let attempt = 0; current && attempt < 3; attempt++) {
      const { allowed, bucket, retryAfterMs } = takeToken(current.bucket, clock(), rateLimit);
      if (!allowed) {
        throw new InvalidRequestError(
          ErrorCode.RateLimited,
          `Too many messages: at most ${rateLimit.perSecond} a second. Try again in ${Math.ceil(retryAfterMs / 1000)} s.`,
        );
      }
      if (await store.saveBucket(current.connectionId, current.bucket, bucket)) return;
      current = await store.get(connection.connectionId);
    }
    throw new InvalidRequestError(ErrorCode.RateLimited, "Too many messages at once. Try again.");
  }

  async function refresh(connection: ConnectionRecord, request: RefreshRequest, log: Logger) {
    let expiresAt: number;
    try {
      const claims = await verifier.verify(request.token);
      if (claims.userId !== connection.userId) {
        throw new InvalidRequestError(ErrorCode.InvalidToken, "The new token belongs to another user.");
      }
      expiresAt = claims.expiresAt;
    } catch (err) {
      if (!(err instanceof TokenRejectedError)) throw err;
      log.warn("refresh refused", { reason: err.reason });
      throw new InvalidRequestError(ErrorCode.InvalidToken, "The new token is not valid.");
    }
    if (!(await store.renew(connection.connectionId, connection.userId, expiresAt))) {
      throw new SessionEndedError(ErrorCode.Unauthenticated, "This connection is no longer signed in.");
    }
    await sendFrame(connections, connection.connectionId, { type: "refreshed", expiresAt });
    log.info("session refreshed", { userId: connection.userId, expiresAt });
  }

  return async (event: WebSocketEvent): Promise<WebSocketResult> => {
    const { connectionId, requestId, routeKey } = event.requestContext;
    const log = logger.child({ connectionId, requestId, routeKey });
    try {
      const request = parseClientRequest(event.body);
      const connection = await store.get(connectionId);
      if (!connection) {
        throw new SessionEndedError(ErrorCode.Unauthenticated, "This connection is no longer signed in.");
      }
      if (request.action === "refresh") {
        // A refresh may revive a session that has just run out: the new token is proof enough.
        await refresh(connection, request, log);
      } else if (connection.expiresAt <= toEpochSeconds(clock())) {
        throw new SessionEndedError(ErrorCode.SessionExpired, "Your session has expired. Sign in again.");
      } else {
        await sendMessage(connection, request, log);
      }
      return { statusCode: 200 };
    } catch (err) {
      if (err instanceof InvalidRequestError) {
        log.info("request refused", { code: err.code });
        await reply(connections, connectionId, err.code, err.message, log);
        if (err instanceof SessionEndedError) {
          await connections
            .close(connectionId)
            .catch((closeErr: unknown) => log.warn("close failed", { error: closeErr }));
        }
        return { statusCode: 400 };
      }
      log.error("message handling failed", { error: err });
      await reply(connections, connectionId, ErrorCode.InternalError, "The message could not be sent.", log);
      return { statusCode: 500 };
    }
  };
}

/** Sends the sender an error frame; a sender who has gone meanwhile is not worth more than a log line. */
async function reply(api: ConnectionsApi, connectionId: string, code: ErrorCode, message: string, log: Logger) {
  await sendFrame(api, connectionId, { type: "error", code, message }).catch((err: unknown) =>
    log.warn("could not send error frame", { error: err }),
  );
}

export function messageFromEnv(
  env: Env,
  options: FromEnvOptions & { allowInsecureLoopback?: boolean; fanoutQueue?: FanoutQueue } = {},
) {
  const clock = options.clock ?? systemClock;
  const queueUrl = env[EnvVar.FanoutQueueUrl];
  return createMessageHandler({
    store: storeFromEnv(env, clock),
    connections: new ManagementApiConnections(
      createManagementClient({ endpoint: requireEnv(env, EnvVar.CallbackUrl) }),
    ),
    verifier: verifierFromEnv(env, options),
    clock,
    logger: options.logger ?? loggerFromEnv(env),
    rateLimit: {
      burst: numberEnv(env, EnvVar.MessageBurst, Limits.defaultMessageBurst),
      perSecond: numberEnv(env, EnvVar.MessagesPerSecond, Limits.defaultMessagesPerSecond),
    },
    fanoutQueue: options.fanoutQueue ?? (queueUrl ? new SqsFanoutQueue(new SQSClient({}), queueUrl) : undefined),
    fanout: { batchSize: numberEnv(env, EnvVar.FanoutBatchSize, DEFAULT_FANOUT_BATCH_SIZE) },
  });
}
