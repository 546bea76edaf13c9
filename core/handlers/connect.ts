import { type Clock, systemClock, toEpochSeconds } from "../clock.js";
import type { ConnectionStore } from "../connection-store.js";
import type { Env } from "../env.js";
import { type Logger, loggerFromEnv } from "../logger.js";
import { chatUserOf, Limits, LOBBY } from "../protocol.js";
import type { RoomStore } from "../room-store.js";
import { handshakeResponseHeaders } from "../token-transport.js";
import type { WebSocketEvent, WebSocketResult } from "../websocket-event.js";
import { readAuthorizerContext } from "./authorizer-context.js";
import { type FromEnvOptions, storesFromEnv } from "./env-deps.js";

export interface ConnectDeps {
  store: Pick<ConnectionStore, "put">;
  rooms: Pick<RoomStore, "addMember">;
  clock: Clock;
  logger: Logger;
}

/** Keep a record a little past API Gateway's 2-hour limit, so a missed `$disconnect` still expires. */
const TTL_MARGIN_SECONDS = 5 * 60;

/** `$connect`: records who is on the new connection. The socket opens only after this returns 200. */
export function createConnectHandler({ store, rooms, clock, logger }: ConnectDeps) {
  return async (event: WebSocketEvent): Promise<WebSocketResult> => {
    const { connectionId, requestId } = event.requestContext;
    const log = logger.child({ connectionId, requestId });
    const auth = readAuthorizerContext(event);
    if (!auth) {
      // Only reachable if the route lost its authorizer: refuse rather than admit an anonymous socket.
      log.error("connect without authorizer context; refusing");
      return { statusCode: 403 };
    }
    const connectedAt = event.requestContext.connectedAt ?? clock();
    const ttl = toEpochSeconds(connectedAt) + Limits.maxConnectionSeconds + TTL_MARGIN_SECONDS;
    const user = chatUserOf(auth);
    // Every connection starts in the lobby. It is announced there when it sends `join` (the socket is not open yet).
    await store.put({
      connectionId,
      ...user,
      tenantId: auth.tenantId,
      connectedAt,
      expiresAt: auth.expiresAt,
      ttl,
      rooms: new Set([LOBBY]),
    });
    await rooms.addMember({ room: LOBBY, ...user, connectionId, expiresAt: auth.expiresAt, ttl });
    log.info("connected", { userId: auth.userId });
    const headers = handshakeResponseHeaders(event.headers);
    return headers ? { statusCode: 200, headers } : { statusCode: 200 };
  };
}

export function connectFromEnv(env: Env, options: FromEnvOptions = {}) {
  const clock = options.clock ?? systemClock;
  const { connections, rooms } = storesFromEnv(env, clock);
  return createConnectHandler({
    store: connections,
    rooms,
    clock,
    logger: options.logger ?? loggerFromEnv(env),
  });
}
