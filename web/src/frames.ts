import {
  type ChatUser,
  chatUserOf,
  type ErrorFrame,
  type HistoryFrame,
  type HistoryRequest,
  type JoinRequest,
  type LeaveRequest,
  Limits,
  LOBBY,
  MESSAGE_ID_PATTERN,
  type MessageFrame,
  type PresenceChangeFrame,
  type PresenceFrame,
  type RefreshedFrame,
  type RefreshRequest,
  ROOM_NAME_PATTERN,
  RouteKey,
  type SendMessageRequest,
  type ServerFrame,
} from "../../core/protocol.js";

/** Every frame the page sends: exactly the requests the server parses. */
export type { ClientRequest as ClientFrame } from "../../core/client-request.js";

/**
 * API Gateway's own error, sent instead of the integration's answer: `{"message":"Too Many Requests",
 * "connectionId":…,"requestId":…}` when the route is throttled, "Internal server error" when the integration failed,
 * "Endpoint request timed out" when it took too long. It has no `type` and names neither the request nor its room.
 */
export interface GatewayErrorFrame {
  type: "gateway-error";
  reason: GatewayErrorReason;
  /** API Gateway's words; not for people. */
  message: string;
}
export type GatewayErrorReason = "throttled" | "failed" | "timed-out";

/** A presence frame as the page takes it: a server that predates presence versions sends none. */
type MaybeVersioned<T extends { version: number }> = Omit<T, "version"> & { version?: number };

/** What reaches the page over the socket: the server's frames, and API Gateway's errors. */
export type IncomingFrame =
  | Exclude<ServerFrame, PresenceFrame | PresenceChangeFrame>
  | MaybeVersioned<PresenceFrame>
  | MaybeVersioned<PresenceChangeFrame>
  | GatewayErrorFrame;

/** API Gateway's error messages the page knows; any other untyped frame is dropped like an unknown type. */
const GATEWAY_ERRORS = new Map<unknown, GatewayErrorReason>([
  ["Too Many Requests", "throttled"],
  ["Internal server error", "failed"],
  ["Endpoint request timed out", "timed-out"],
]);

/**
 * Parses a frame from the server. Returns undefined for anything that is not a frame this page understands, so a
 * newer server can add frame types without breaking an older page. Ids must look like the server's (12 digits):
 * they go back to it as `after`/`before` cursors, and a malformed one would only earn `invalid_cursor`.
 */
export function parseServerFrame(data: unknown): IncomingFrame | undefined {
  if (typeof data !== "string") return undefined;
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return undefined;
  }
  if (!isObject(value)) return undefined;
  switch (value.type) {
    case "message":
      return asMessage(value);
    case "history":
      return asHistory(value);
    case "presence":
      return asPresence(value);
    case "joined":
    case "left":
      return asPresenceChange(value.type, value);
    case "error":
      return asError(value);
    case "refreshed":
      return asRefreshed(value);
    case undefined:
      return asGatewayError(value);
    default:
      return undefined;
  }
}

function asGatewayError(value: Record<string, unknown>): GatewayErrorFrame | undefined {
  const reason = GATEWAY_ERRORS.get(value.message);
  return reason && { type: "gateway-error", reason, message: value.message as string };
}

function asMessage(value: Record<string, unknown>): MessageFrame | undefined {
  const { id, sender, text, sentAt } = value;
  // A frame from a server that predates rooms has no `room`: it was the lobby, the only room there was.
  const room = value.room === undefined ? LOBBY : roomOf(value.room);
  if (room === undefined || typeof id !== "string" || !MESSAGE_ID_PATTERN.test(id)) return undefined;
  if (typeof text !== "string" || typeof sentAt !== "string") return undefined;
  const user = asUser(sender);
  return user && { type: "message", room, id, sender: user, text, sentAt };
}

function asHistory(value: Record<string, unknown>): HistoryFrame | undefined {
  const room = roomOf(value.room);
  if (room === undefined || !Array.isArray(value.messages) || typeof value.hasMore !== "boolean") return undefined;
  const messages: MessageFrame[] = [];
  for (const item of value.messages) {
    const message: MessageFrame | undefined = isObject(item) ? asMessage({ room, ...item }) : undefined;
    // One bad message does not cost the others; a message filed under another room does not belong here.
    if (message && message.room === room) messages.push(message);
  }
  return { type: "history", room, messages, hasMore: value.hasMore };
}

function asPresence(value: Record<string, unknown>): MaybeVersioned<PresenceFrame> | undefined {
  const room = roomOf(value.room);
  if (room === undefined || !Array.isArray(value.users)) return undefined;
  const users = value.users.map(asUser).filter((user) => user !== undefined);
  return { type: "presence", room, users, ...versionOf(value) };
}

function asPresenceChange(
  type: "joined" | "left",
  value: Record<string, unknown>,
): MaybeVersioned<PresenceChangeFrame> | undefined {
  const room = roomOf(value.room);
  const user = asUser(value.user);
  return room !== undefined && user ? { type, room, user, ...versionOf(value) } : undefined;
}

/** A presence frame's version, left out when missing (an older server) or not a count. */
const versionOf = ({ version }: Record<string, unknown>) =>
  typeof version === "number" && Number.isSafeInteger(version) && version >= 0 ? { version } : {};

function asError(value: Record<string, unknown>): ErrorFrame | undefined {
  const { code, message } = value;
  if (typeof code !== "string" || typeof message !== "string") return undefined;
  const room = roomOf(value.room);
  return { type: "error", code: code as ErrorFrame["code"], message, ...(room ? { room } : {}) };
}

function asRefreshed(value: Record<string, unknown>): RefreshedFrame | undefined {
  return typeof value.expiresAt === "number" && Number.isFinite(value.expiresAt)
    ? { type: "refreshed", expiresAt: value.expiresAt }
    : undefined;
}

function asUser(value: unknown): ChatUser | undefined {
  if (!isObject(value) || typeof value.userId !== "string" || value.userId === "") return undefined;
  // chatUserOf drops an empty name: the page falls back to the user id.
  return chatUserOf({ userId: value.userId, name: typeof value.name === "string" ? value.name : undefined });
}

function roomOf(value: unknown): string | undefined {
  return typeof value === "string" && ROOM_NAME_PATTERN.test(value) ? value : undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Why the page will not send a text, in words for the person typing; undefined when it may be sent. */
export function textProblem(text: string): string | undefined {
  const trimmed = text.trim();
  if (trimmed === "") return "Type a message first.";
  const length = codePointLength(trimmed);
  if (length > Limits.maxTextLength) {
    return `That message is ${length} characters long; the limit is ${Limits.maxTextLength}.`;
  }
  return undefined;
}

/** Length as the server counts it: code points, so an emoji is one character, not two UTF-16 units. */
export function codePointLength(text: string): number {
  let length = 0;
  for (const _ of text) length++;
  return length;
}

export function sendMessageFrame(room: string, text: string): SendMessageRequest {
  return { action: RouteKey.SendMessage, room, text: text.trim() };
}

export function joinFrame(room: string, after?: string): JoinRequest {
  return after === undefined ? { action: RouteKey.Join, room } : { action: RouteKey.Join, room, after };
}

export function leaveFrame(room: string): LeaveRequest {
  return { action: RouteKey.Leave, room };
}

export function historyFrame(room: string, cursor: { before: string } | { after: string }): HistoryRequest {
  return { action: RouteKey.History, room, ...cursor };
}

export function refreshFrame(token: string): RefreshRequest {
  return { action: RouteKey.Refresh, token };
}
