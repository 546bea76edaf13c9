import { InvalidRequestError } from "./errors.js";
import {
  ErrorCode,
  Limits,
  type RefreshRequest,
  ROUTE_SELECTION_FIELD,
  RouteKey,
  type SendMessageRequest,
} from "./protocol.js";

export type ClientRequest = SendMessageRequest | RefreshRequest;

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
  const action = ownString(parsed, ROUTE_SELECTION_FIELD);
  switch (action) {
    case RouteKey.SendMessage:
      return { action, text: validText(parsed) };
    case RouteKey.Refresh: {
      const token = ownString(parsed, "token");
      if (!token) throw new InvalidRequestError(ErrorCode.InvalidToken, '"token" must be the new access token.');
      return { action, token };
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

function validText(request: object): string {
  const raw = Object.hasOwn(request, "text") ? (request as { text: unknown }).text : undefined;
  const text = typeof raw === "string" ? raw.trim() : "";
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

function ownString(value: object, key: string): string | undefined {
  const field = Object.hasOwn(value, key) ? (value as Record<string, unknown>)[key] : undefined;
  return typeof field === "string" ? field : undefined;
}
