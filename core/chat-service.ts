import { Broadcaster, type BroadcastOptions, type Recipient } from "./broadcast.js";
import type { ClientRequest } from "./client-request.js";
import { type Clock, toEpochSeconds } from "./clock.js";
import type { ConnectionStore } from "./connection-store.js";
import type { ConnectionRecord } from "./connection-table.js";
import { type ConnectionsApi, sendFrame } from "./connections-api.js";
import { InvalidRequestError, RejectionReason, TokenRejectedError } from "./errors.js";
import { Fanout, type FanoutOptions, type FanoutResult } from "./fanout.js";
import type { FanoutQueue } from "./fanout-queue.js";
import { chunkHistory } from "./history-frames.js";
import type { Logger } from "./logger.js";
import { chatUserOf, ErrorCode, Limits, type MessageFrame, type ServerFrame } from "./protocol.js";
import { type RateLimit, takeToken } from "./rate-limiter.js";
import type { Member, RoomStore } from "./room-store.js";
import type { TokenVerifier } from "./token-verifier.js";

export interface ChatServiceDeps {
  connections: Pick<ConnectionStore, "get" | "delete" | "renew" | "saveBucket" | "addRoom" | "removeRoom">;
  rooms: Pick<
    RoomStore,
    | "joinMember"
    | "removeMember"
    | "setMemberExpiry"
    | "members"
    | "isPresent"
    | "membershipsOf"
    | "presence"
    | "nextPresenceVersion"
    | "nextMessageId"
    | "saveMessage"
    | "history"
  >;
  api: ConnectionsApi;
  clock: Clock;
  logger: Logger;
  /** Checks the token of a `refresh`; without one, refresh is refused. @default none */
  verifier?: Pick<TokenVerifier, "verify">;
  /** @default Limits.defaultMessageBurst and Limits.defaultMessagesPerSecond */
  rateLimit?: RateLimit;
  /** @default Limits.defaultHistoryDays */
  historyDays?: number;
  broadcast?: BroadcastOptions;
  /** Where batches past the first go. @default none: every broadcast is sent by the caller */
  fanoutQueue?: FanoutQueue;
  fanout?: FanoutOptions;
}

/** API Gateway's integration timeout: no `$connect` runs longer. */
export const CONNECT_GRACE_MS = 29_000;

/** Ends a connection whose session is over: the sender gets the error frame, then the socket is closed. */
export class SessionEndedError extends InvalidRequestError {}

interface ToRoomOptions {
  /** A connection left out (the joiner, who hears of itself otherwise). */
  except?: string;
  /** Connections found gone are forgotten without announcing their departure. */
  silentCleanup?: boolean;
}

/**
 * What the chat does, whichever Lambda (or sandbox) asks: rooms, messages with history, presence, session renewal,
 * and cleaning up after connections. The connection record is the source of truth for who a connection is and
 * until when; it outlives the token checked at connect, since `refresh` extends it.
 */
export class ChatService {
  private readonly fanout: Fanout;
  private readonly rateLimit: RateLimit;
  private readonly retentionSeconds: number;

  constructor(private readonly deps: ChatServiceDeps) {
    this.fanout = new Fanout(
      new Broadcaster(deps.api, deps.logger, deps.broadcast),
      deps.fanoutQueue,
      deps.logger,
      deps.fanout,
    );
    this.rateLimit = deps.rateLimit ?? {
      burst: Limits.defaultMessageBurst,
      perSecond: Limits.defaultMessagesPerSecond,
    };
    this.retentionSeconds = (deps.historyDays ?? Limits.defaultHistoryDays) * 24 * 60 * 60;
  }

  /** Acts on one client frame from `connectionId`. Throws `InvalidRequestError` for the sender to hear about. */
  async handle(connectionId: string, request: ClientRequest, log: Logger): Promise<void> {
    const connection = await this.deps.connections.get(connectionId);
    if (!connection) {
      throw new SessionEndedError(ErrorCode.Unauthenticated, "This connection is no longer signed in.");
    }
    if (request.action === "refresh") {
      // A refresh may revive a session that has just run out: the new token is proof enough.
      return this.refresh(connection, request.token, log);
    }
    if (connection.expiresAt <= this.nowSeconds()) {
      throw new SessionEndedError(ErrorCode.SessionExpired, "Your session has expired. Sign in again.");
    }
    await this.spendToken(connection);
    switch (request.action) {
      case "sendmessage":
        return this.sendMessage(connection, request.room, request.text, log);
      case "join":
        return this.join(connection, request.room, request.after, log);
      case "leave":
        return this.leave(connection, request.room, log);
      case "history":
        return this.history(connection, request.room, request);
    }
  }

  /**
   * Forgets a connection everywhere: its rooms, then its record. With `announce`, rooms where that was the user's
   * last connection hear that the user left.
   */
  async removeConnection(connectionId: string, announce: boolean): Promise<void> {
    await this.forget(connectionId, announce);
  }

  /**
   * Forgets a connection that a send found gone (410). API Gateway also answers 410 for a socket whose `$connect` is
   * still running, and that one is about to open: a connection younger than the integration timeout is left alone
   * (if it really is gone, its TTL, `$disconnect` or a later broadcast removes it). `member` names the room
   * membership the send came from: it is removed, and the departure announced, even when the record is gone already
   * (a clean-up that stopped half-way leaves such memberships behind).
   */
  async forgetGone(connectionId: string, announce = true, member?: { room: string; userId: string }): Promise<void> {
    const connection = await this.deps.connections.get(connectionId);
    if (connection && this.deps.clock() - connection.connectedAt < CONNECT_GRACE_MS) return;
    if (!connection && member) {
      // Left by a clean-up that deleted the record and stopped before this room: dropped, and announced if the user
      // has no other connection there.
      await this.dropMembership({ connectionId, userId: member.userId }, member.room, cleanupAnnouncement(announce));
    }
    await this.forget(connectionId, announce);
  }

  /**
   * Deletes the record first, then the memberships of the rooms it listed as it went: a `join` running meanwhile
   * either wrote its room into the record before (and its membership is dropped here) or finds the record gone
   * after its own write and drops the membership itself (see `join`).
   */
  private async forget(connectionId: string, announce: boolean) {
    const connection = await this.deps.connections.delete(connectionId);
    if (!connection) return;
    for (const room of connection.rooms ?? []) {
      await this.dropMembership(connection, room, cleanupAnnouncement(announce));
    }
  }

  private async sendMessage(connection: ConnectionRecord, room: string, text: string, log: Logger) {
    this.requireMember(connection, room);
    const { rooms, clock } = this.deps;
    const message: MessageFrame = {
      type: "message",
      room,
      id: await rooms.nextMessageId(room),
      sender: chatUserOf(connection),
      text,
      sentAt: new Date(clock()).toISOString(),
    };
    // Stored before it is sent, and the members read only after: a client that misses the broadcast finds it in the
    // history, and one joining meanwhile (which writes its membership before it reads the history) gets one or the
    // other. Reading the members alongside the save would be a round trip sooner and break that.
    await rooms.saveMessage(message, this.nowSeconds() + this.retentionSeconds);
    let result: FanoutResult;
    try {
      result = await this.toRoom(room, message);
    } catch (err) {
      // Stored, so not a failure to the sender (who would send it again, twice in the history): members that missed
      // it find it in the history at their next message or reconnect, and the sender at least sees it went in.
      log.error("the message is stored but its broadcast failed", { room, messageId: message.id, error: err });
      await this.send(connection.connectionId, message).catch(() => {});
      return;
    }
    log.info("message broadcast", { room, messageId: message.id, userId: connection.userId, ...result });
  }

  private async join(connection: ConnectionRecord, room: string, after: string | undefined, log: Logger) {
    const { connections, rooms } = this.deps;
    const { connectionId, userId } = connection;
    if (!(await connections.addRoom(connectionId, room, Limits.maxRoomsPerConnection))) {
      if (!(await connections.get(connectionId))) {
        throw new SessionEndedError(ErrorCode.Unauthenticated, "This connection is no longer signed in.");
      }
      throw new InvalidRequestError(
        ErrorCode.TooManyRooms,
        `A connection can be in at most ${Limits.maxRoomsPerConnection} rooms. Leave one first.`,
      );
    }
    const joinedAt = await rooms.joinMember({
      room,
      ...chatUserOf(connection),
      connectionId,
      expiresAt: connection.expiresAt,
      ttl: connection.ttl,
    });
    // Read again after the write. A `$disconnect` or `leave` that ran meanwhile has already dropped the room's
    // memberships, so this one must go too; a `refresh` that ran meanwhile may have missed it, so its session's end
    // is carried here.
    const current = await connections.get(connectionId);
    if (!current?.rooms?.has(room)) {
      // Announced as a clean-up would: the write may have come between the other's delete and its presence check.
      await this.dropMembership(connection, room, cleanupAnnouncement(true));
      return;
    }
    if (current.expiresAt > connection.expiresAt) {
      await rooms.setMemberExpiry(room, userId, connectionId, current.expiresAt);
    }
    // The answer and the announcement go out side by side: neither waits for the other, and a joiner gone before
    // its answer (410) still announces, since a later tab of the user may be holding back for it.
    const [answered, announced] = await Promise.allSettled([
      this.answerJoin(connectionId, room, after),
      this.announceArrival(current, room, joinedAt),
    ]);
    if (answered.status === "rejected" && announced.status === "rejected") {
      log.warn("the arrival was not announced", { room, userId, error: announced.reason });
    }
    for (const outcome of [answered, announced]) if (outcome.status === "rejected") throw outcome.reason;
    log.info("joined", { room, userId });
  }

  /** The joiner's catch-up: the history it missed, then who is online. */
  private async answerJoin(connectionId: string, room: string, after: string | undefined) {
    const { rooms } = this.deps;
    const history = await rooms.history(
      room,
      after === undefined ? { limit: Limits.historyOnJoin } : { limit: Limits.maxHistoryPage, after },
    );
    await this.sendHistory(connectionId, room, history.messages, history.hasMore);
    const { users, version } = await rooms.presence(room, Limits.maxPresenceUsers);
    await this.send(connectionId, { type: "presence", room, users, version });
  }

  /**
   * Tells the room the user arrived, if this join is the one to (`firstToJoin`). The version is taken between the
   * membership's write and that decision, as `dropMembership` takes one between its delete and its check: so when a
   * `leave` or `$disconnect` races this join and both announce, the one with the higher version asked last and
   * tells the truth, whichever reaches a client first.
   */
  private async announceArrival(connection: ConnectionRecord, room: string, joinedAt: number) {
    const version = await this.deps.rooms.nextPresenceVersion(room);
    if (!(await this.firstToJoin(connection, room, joinedAt))) return;
    const frame: ServerFrame = { type: "joined", room, user: chatUserOf(connection), version };
    await this.toRoom(room, frame, { except: connection.connectionId });
  }

  /**
   * Whether this join should announce the user, asked after its write (as `dropMembership` asks after its delete), so
   * that a tab leaving while another joins cannot leave the room believing the user gone. Of the user's connections,
   * the first to have joined (by `joinedAt`, then connection id) announces; later ones hold back for it. So this one
   * announces when none joined before it, and the user is still in the room: through this connection, or through a
   * later one that held back for it while this connection's own `leave` came first. Two tabs may both announce when
   * their clocks and writes cross (the page ignores a repeated `joined`). An earlier membership whose connection has
   * no record left (a clean-up that stopped half-way) does not count, and is dropped on the way.
   */
  private async firstToJoin(connection: ConnectionRecord, room: string, joinedAt: number): Promise<boolean> {
    const { connections, rooms } = this.deps;
    const { userId, connectionId } = connection;
    const me = { connectionId, joinedAt };
    const memberships = await rooms.membershipsOf(room, userId);
    for (const other of memberships) {
      if (!joinedBefore(other, me)) continue;
      if (await connections.get(other.connectionId)) return false;
      // As any departure: deleted, then a version, then the check (nobody hears of it while this join's stands).
      await this.dropMembership(other, room, cleanupAnnouncement(true));
    }
    return memberships.some((other) => other.connectionId === connectionId || joinedBefore(me, other));
  }

  private async leave(connection: ConnectionRecord, room: string, log: Logger) {
    this.requireMember(connection, room);
    // The membership goes before the record's note of the room, so a failure between them leaves a leave that can
    // be sent again rather than a membership nothing lists.
    await this.dropMembership(connection, room, {});
    await this.deps.connections.removeRoom(connection.connectionId, room);
    log.info("left", { room, userId: connection.userId });
  }

  /**
   * Takes the connection out of the room's members; if it was the user's last connection there, the room hears they
   * left, sent with `announceWith` (none: say nothing, as a clean-up without announcements does).
   */
  private async dropMembership(
    connection: Pick<ConnectionRecord, "connectionId" | "userId" | "name">,
    room: string,
    announceWith: ToRoomOptions | undefined,
  ) {
    const { rooms } = this.deps;
    await rooms.removeMember(room, connection.userId, connection.connectionId);
    if (!announceWith) return;
    const version = await rooms.nextPresenceVersion(room); // see announceArrival
    if (!(await rooms.isPresent(room, connection.userId))) {
      await this.toRoom(room, { type: "left", room, user: chatUserOf(connection), version }, announceWith);
    }
  }

  private async history(connection: ConnectionRecord, room: string, cursor: { before?: string; after?: string }) {
    this.requireMember(connection, room);
    const page = await this.deps.rooms.history(room, { limit: Limits.maxHistoryPage, ...cursor });
    await this.sendHistory(connection.connectionId, room, page.messages, page.hasMore);
  }

  private async refresh(connection: ConnectionRecord, token: string, log: Logger) {
    const { verifier, connections, rooms } = this.deps;
    let expiresAt: number;
    try {
      if (!verifier) throw new InvalidRequestError(ErrorCode.InvalidToken, "Sessions cannot be renewed here.");
      const claims = await verifier.verify(token);
      if (claims.userId !== connection.userId) {
        throw new InvalidRequestError(ErrorCode.InvalidToken, "The new token belongs to another user.");
      }
      expiresAt = claims.expiresAt;
    } catch (err) {
      if (!(err instanceof TokenRejectedError)) throw err;
      log.warn("refresh refused", { reason: err.reason });
      // Not the token's fault: the session stands until it expires, and the client should try again soon.
      if (err.reason === RejectionReason.JwksUnavailable) {
        throw new InvalidRequestError(
          ErrorCode.AuthUnavailable,
          "Your session could not be renewed just now; it stays as it was. Try again shortly.",
        );
      }
      throw new InvalidRequestError(ErrorCode.InvalidToken, "The new token is not valid.");
    }
    // A token that would not extend the session (the same one again, or an older one) changes nothing: no writes,
    // so repeating a refresh costs a verification, not a write per room.
    if (expiresAt <= connection.expiresAt) {
      await this.send(connection.connectionId, { type: "refreshed", expiresAt: connection.expiresAt });
      return;
    }
    const renewed = await connections.renew(connection.connectionId, connection.userId, expiresAt);
    if (!renewed) {
      throw new SessionEndedError(ErrorCode.Unauthenticated, "This connection is no longer signed in.");
    }
    // The session's end as it now is: a renewal running alongside with a later token may have set it further.
    const endsAt = renewed.expiresAt;
    // The rooms as of the renewal, some maybe joined since the record was read: a `join` whose membership is not
    // written yet reads the new expiry after writing it.
    for (const room of renewed.rooms ?? []) {
      await rooms.setMemberExpiry(room, connection.userId, connection.connectionId, endsAt);
    }
    await this.send(connection.connectionId, { type: "refreshed", expiresAt: endsAt });
    log.info("session refreshed", { userId: connection.userId, expiresAt: endsAt });
  }

  /** Takes a token from the connection's bucket; a concurrent frame from the same connection means read again. */
  private async spendToken(connection: ConnectionRecord) {
    const { connections, clock } = this.deps;
    let current: ConnectionRecord | undefined = connection;
    // Frames sent at once by one connection compete for the bucket; a few re-reads settle them.
    for (let attempt = 0; current && attempt < 6; attempt++) {
      const { allowed, bucket, retryAfterMs } = takeToken(current.bucket, clock(), this.rateLimit);
      if (!allowed) {
        throw new InvalidRequestError(
          ErrorCode.RateLimited,
          `Too many messages: at most ${this.rateLimit.perSecond} a second. Try again in ${Math.ceil(retryAfterMs / 1000)} s.`,
        );
      }
      if (await connections.saveBucket(current.connectionId, current.bucket, bucket)) return;
      current = await connections.get(connection.connectionId);
    }
    throw new InvalidRequestError(ErrorCode.RateLimited, "Too many messages at once. Try again.");
  }

  private requireMember(connection: ConnectionRecord, room: string) {
    if (!connection.rooms?.has(room)) {
      throw new InvalidRequestError(ErrorCode.NotAMember, `Join "${room}" first.`);
    }
  }

  /**
   * Sends a frame to everyone in the room, here and through the fan-out workers. Connections found gone are
   * forgotten; unless `silentCleanup`, their rooms also hear that their user left (those announcements clean up
   * silently, so a mass disconnect does not announce departures of departures).
   */
  private toRoom(room: string, frame: ServerFrame, options: ToRoomOptions = {}): Promise<FanoutResult> {
    return this.fanout.send({
      recipients: recipientsOf(this.deps.rooms.members(room), options.except),
      data: JSON.stringify(frame),
      expiredAt: this.nowSeconds(),
      room,
      silentCleanup: options.silentCleanup,
      onGone: forgetGoneIn(this, room, options.silentCleanup),
      onExpired: ({ connectionId }) => this.deps.api.close(connectionId),
    });
  }

  private async sendHistory(connectionId: string, room: string, messages: MessageFrame[], hasMore: boolean) {
    for (const frame of chunkHistory(room, messages, hasMore)) await this.send(connectionId, frame);
  }

  private send(connectionId: string, frame: ServerFrame): Promise<void> {
    return sendFrame(this.deps.api, connectionId, frame);
  }

  private nowSeconds(): number {
    return toEpochSeconds(this.deps.clock());
  }
}

type Joined = { connectionId: string; joinedAt?: number };

/**
 * Whether `a` joined before `b`: by `joinedAt`, and by connection id within a millisecond. A membership without
 * `joinedAt` has not joined (the lobby's from `$connect`, before the page's `join`), neither before nor after.
 */
const joinedBefore = (a: Joined, b: Joined) =>
  a.joinedAt !== undefined &&
  b.joinedAt !== undefined &&
  (a.joinedAt < b.joinedAt || (a.joinedAt === b.joinedAt && a.connectionId < b.connectionId));

/** How a clean-up announces departures: only with `announce`, and its own broadcasts clean up silently. */
const cleanupAnnouncement = (announce: boolean): ToRoomOptions | undefined =>
  announce ? { silentCleanup: true } : undefined;

/**
 * What a broadcast to `room` does with a recipient found gone (410), here or in a fan-out worker: forget it, and
 * announce the departure unless `silentCleanup`.
 */
export const forgetGoneIn =
  (chat: Pick<ChatService, "forgetGone">, room: string | undefined, silentCleanup?: boolean) =>
  ({ connectionId, userId }: Recipient): Promise<void> =>
    chat.forgetGone(connectionId, !silentCleanup, room && userId ? { room, userId } : undefined);

async function* recipientsOf(members: AsyncIterable<Member[]>, except?: string): AsyncGenerator<Recipient[]> {
  for await (const page of members) {
    // Only what sending and clean-up need: these go into fan-out batches.
    yield page
      .filter((member) => member.connectionId !== except)
      .map(({ connectionId, expiresAt, userId }) => ({ connectionId, expiresAt, userId }));
  }
}
