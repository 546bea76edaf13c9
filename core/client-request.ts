import { InvalidRequestError } from "./errors.js";
import {
  ErrorCode,
  type HistoryRequest,
  type JoinRequest,
  type LeaveRequest,
  Limits,
  LOBBY,
  MESSAGE_ID_PATTERN,
  type RefreshRequest,
  ROOM_NAME_PATTERN,
  ROUTE_SELECTION_FIELD,
  RouteKey,
  type SendMessageRequest,
} from "./protocol.js";

export type ClientRequest = SendMessageRequest | RefreshRequest | JoinRequest | LeaveRequest | HistoryRequest;

/**
 * Parses and validates a client frame. Throws `InvalidRequestError` with the code and message the sender sees.
 * Only own properties are read from the parsed JSON, so `__proto__` in a body changes nothing.
 */
export function parseClientRequest(body: string | undefined): ClientRequest {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body ?? "");
  } catch {
    throw new InvalidRequestError(ErrorCode.InvalidJson, "The message is not valid JSON.");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new InvalidRequestError(ErrorCode.InvalidJson, "The message must be a JSON object.");
  }
  const frame = parsed as Record<string, unknown>;
  const action = ownString(frame, ROUTE_SELECTION_FIELD);
  switch (action) {
    case RouteKey.SendMessage:
      return { action, room: roomOf(frame, LOBBY), text: textOf(frame) };
    case RouteKey.Refresh: {
      const token = ownString(frame, "token");
      if (!token) throw new InvalidRequestError(ErrorCode.InvalidToken, '"token" must be the new access token.');
      return { action, token };
    }
    case RouteKey.Join:
      return { action, room: roomOf(frame), ...cursor(frame, "after") };
    case RouteKey.Leave:
      return { action, room: roomOf(frame) };
    case RouteKey.History: {
      const request = { action, room: roomOf(frame), ...cursor(frame, "before"), ...cursor(frame, "after") };
      if (request.before !== undefined && request.after !== undefined) {
        throw new InvalidRequestError(ErrorCode.InvalidCursor, 'Give "before" or "after", not both.');
      }
      return request;
    }
    default:
      throw new InvalidRequestError(
        ErrorCode.UnknownAction,
        action === undefined
          ? `The message has no "${ROUTE_SELECTION_FIELD}".`
          : `Unknown action "${action.slice(0, 64)}".`,
      );
  }
}

function roomOf(frame: Record<string, unknown>, fallback?: string): string {
  const room = Object.hasOwn(frame, "room") ? frame.room : fallback;
  if (typeof room !== "string" || !ROOM_NAME_PATTERN.test(room)) {
    throw new InvalidRequestError(
      ErrorCode.InvalidRoom,
      '"room" must be 1 to 32 characters: lower-case letters, digits, "-" and "_", starting with a letter or digit.',
    );
  }
  return room;
}

function cursor<K extends "before" | "after">(frame: Record<string, unknown>, key: K): { [P in K]?: string } {
  if (!Object.hasOwn(frame, key) || frame[key] === undefined || frame[key] === null) return {};
  const value = frame[key];
  if (typeof value !== "string" || !MESSAGE_ID_PATTERN.test(value)) {
    throw new InvalidRequestError(ErrorCode.InvalidCursor, `"${key}" must be a message id.`);
  }
  return { [key]: value } as { [P in K]?: string };
}

function textOf(frame: Record<string, unknown>): string {
  const raw = ownString(frame, "text");
  const text = raw?.trim() ?? "";
  if (text === "") {
    throw new InvalidRequestError(ErrorCode.InvalidText, '"text" must be a non-empty string.');
  }
  const length = [...text].length; // code points, as people count characters
  if (length > Limits.maxTextLength) {
    throw new InvalidRequestError(
      ErrorCode.TextTooLong,
      `"text" is ${length} characters long; the limit is ${Limits.maxTextLength}.`,
    );
  }
  return text;
}

function ownString(frame: Record<string, unknown>, key: string): string | undefined {
  const field = Object.hasOwn(frame, key) ? frame[key] : undefined;
  return typeof field === "string" ? field : undefined;
}
