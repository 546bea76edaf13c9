/**
 * The wire protocol, named once: the stack, the handlers, the sandbox and the page all import from here, so a
 * route key or a limit cannot drift between them. docs/PROTOCOL.md describes the same frames for people.
 */

/** API Gateway's route selection expression; the sandbox routes with the same value. */
export const ROUTE_SELECTION_EXPRESSION = "$request.body.action";
/** The JSON field that `ROUTE_SELECTION_EXPRESSION` reads. */
export const ROUTE_SELECTION_FIELD = "action";

export const RouteKey = {
  Connect: "$connect",
  Disconnect: "$disconnect",
  Default: "$default",
  SendMessage: "sendmessage",
  Refresh: "refresh",
  Join: "join",
  Leave: "leave",
  History: "history",
} as const;
export type RouteKey = (typeof RouteKey)[keyof typeof RouteKey];

/** Routes a client selects with `action`; every other action lands on `$default`. */
export const CLIENT_ACTIONS = [
  RouteKey.SendMessage,
  RouteKey.Refresh,
  RouteKey.Join,
  RouteKey.Leave,
  RouteKey.History,
] as const;

/** SuperTokens' default tenant, for tokens issued before multi-tenancy. */
export const DEFAULT_TENANT = "public";

/** The room every connection is in from the start, and where `sendmessage` goes without a `room`. */
export const LOBBY = "lobby";
/** Message ids are the room's sequence number, zero-padded so that text order is number order. */
export const messageId = (sequence: number): string => String(sequence).padStart(12, "0");
export const MESSAGE_ID_PATTERN = /^\d{12}$/;

/** Room names: 1 to 32 of a-z, 0-9, `-` and `_`, starting with a letter or digit. */
export const ROOM_NAME_PATTERN = /^[a-z0-9][a-z0-9_-]{0,31}$/;

/** Query-string parameter that carries the SuperTokens access token on `$connect`. */
export const TOKEN_QUERY_PARAMETER = "token";
/**
 * The other transport, for deployments whose URLs end up in logs: the browser opens
 * `new WebSocket(url, [CHAT_SUBPROTOCOL, token])`, and `$connect` answers with `CHAT_SUBPROTOCOL` alone.
 */
export const CHAT_SUBPROTOCOL = "supertokens-chat";
export const SUBPROTOCOL_HEADER = "Sec-WebSocket-Protocol";

/** Where the `$connect` token travels; a stack setting (`tokenTransport`). */
export const TokenTransport = { Query: "query", Subprotocol: "subprotocol" } as const;
export type TokenTransport = (typeof TokenTransport)[keyof typeof TokenTransport];

/** API Gateway identity source for the `$connect` authorizer, per transport. */
export const TOKEN_IDENTITY_SOURCES: Record<TokenTransport, string> = {
  query: `route.request.querystring.${TOKEN_QUERY_PARAMETER}`,
  subprotocol: `route.request.header.${SUBPROTOCOL_HEADER}`,
};

export const Limits = {
  /** Longest chat text, in characters after trimming. */
  maxTextLength: 2000,
  /**
   * API Gateway closes a socket with 1009 on a client frame over 32 KB (a message may be up to 128 KB in several
   * frames, but browsers send each message as one frame).
   */
  maxFrameBytes: 32 * 1024,
  /** PostToConnection `Data` limit. */
  maxPostBytes: 131_072,
  /** API Gateway closes idle sockets after 10 minutes. */
  idleTimeoutSeconds: 10 * 60,
  /** API Gateway closes every socket after 2 hours. */
  maxConnectionSeconds: 2 * 60 * 60,
  /** Messages a connection may send in a burst (token bucket size). Stack setting `messageBurst`. */
  defaultMessageBurst: 10,
  /** Messages per second a connection may sustain (token bucket refill). Stack setting `messagesPerSecond`. */
  defaultMessagesPerSecond: 2,
  /** Rooms one connection may be in at once, the lobby included. */
  maxRoomsPerConnection: 20,
  /** Messages in the `history` frame sent on join. */
  historyOnJoin: 50,
  /** Most messages in one `history` frame. */
  maxHistoryPage: 100,
  /** Days a message is kept. Stack setting `historyDays`. */
  defaultHistoryDays: 30,
  /** Most users listed in one `presence` frame. */
  maxPresenceUsers: 500,
} as const;

/** Machine-readable `code` of an error frame. */
export const ErrorCode = {
  InvalidJson: "invalid_json",
  UnknownAction: "unknown_action",
  InvalidText: "invalid_text",
  TextTooLong: "text_too_long",
  Unauthenticated: "unauthenticated",
  SessionExpired: "session_expired",
  InvalidToken: "invalid_token",
  /** The keys that sign tokens cannot be fetched just now: a `refresh` could not be checked, try again later. */
  AuthUnavailable: "auth_unavailable",
  RateLimited: "rate_limited",
  InvalidRoom: "invalid_room",
  NotAMember: "not_a_member",
  TooManyRooms: "too_many_rooms",
  InvalidCursor: "invalid_cursor",
  InternalError: "internal_error",
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Frames the client sends. */
export interface SendMessageRequest {
  action: typeof RouteKey.SendMessage;
  /** @default LOBBY */
  room: string;
  text: string;
}

export interface JoinRequest {
  action: typeof RouteKey.Join;
  room: string;
  /** The last message id the client has of this room: the history frame then holds what came after it. */
  after?: string;
}

export interface LeaveRequest {
  action: typeof RouteKey.Leave;
  room: string;
}

export interface HistoryRequest {
  action: typeof RouteKey.History;
  room: string;
  /** Messages older than this id (paging back), or */
  before?: string;
  /** messages newer than this id (catching up). */
  after?: string;
}

export interface RefreshRequest {
  action: typeof RouteKey.Refresh;
  /** A newer access token of the same user. */
  token: string;
}

/** Frames the server sends. */
/** Who a user is, as others see them. */
export interface ChatUser {
  userId: string;
  name?: string;
}

/** Who someone is, as frames show them: the user id, and the name when there is one. */
export const chatUserOf = (who: { userId: string; name?: string }): ChatUser =>
  who.name ? { userId: who.userId, name: who.name } : { userId: who.userId };

export interface MessageFrame {
  type: "message";
  room: string;
  /** Per room, strictly increasing; as text, ids sort in the same order. */
  id: string;
  /** The authenticated sender; `name` when the token carries a display name. */
  sender: ChatUser;
  text: string;
  /** ISO 8601, UTC. */
  sentAt: string;
}

export interface ErrorFrame {
  type: "error";
  code: ErrorCode;
  message: string;
  /** The room the refused request named, when it named one. */
  room?: string;
}

/** The connection's session was renewed by a `refresh`. */
export interface RefreshedFrame {
  type: "refreshed";
  /** The new token's `exp`, epoch seconds: refresh again before it. */
  expiresAt: number;
}

/** Stored messages of a room, oldest first. */
export interface HistoryFrame {
  type: "history";
  room: string;
  messages: MessageFrame[];
  /** More messages exist beyond this page, older (`before`, join) or newer (`after`). */
  hasMore: boolean;
}

/** Everyone online in a room, sent to a connection when it joins. */
export interface PresenceFrame {
  type: "presence";
  room: string;
  users: ChatUser[];
  /** The room's presence version when the list was read: `joined`/`left` frames up to it are already in the list. */
  version: number;
}

/** A user came online in a room (their first connection there) or went offline (their last one left). */
export interface PresenceChangeFrame {
  type: "joined" | "left";
  room: string;
  user: ChatUser;
  /**
   * Increases with every change of presence in the room. Frames sent by different Lambdas can arrive in either
   * order; of two about one user, the one with the higher version is the truth.
   */
  version: number;
}

export type ServerFrame =
  | MessageFrame
  | ErrorFrame
  | RefreshedFrame
  | HistoryFrame
  | PresenceFrame
  | PresenceChangeFrame;
