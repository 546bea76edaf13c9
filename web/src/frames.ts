import {
  type ErrorFrame,
  Limits,
  type MessageFrame,
  type RefreshedFrame,
  type RefreshRequest,
  RouteKey,
  type SendMessageRequest,
  type ServerFrame,
} from "../../core/protocol.js";

/**
 * Parses a frame from the server. Returns undefined for anything that is not a frame this page understands, so a
 * newer server (rooms, presence, history) can add frame types without breaking an older page.
 */
export function parseServerFrame(data: unknown): ServerFrame | undefined {
  if (typeof data !== "string") return undefined;
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return undefined;
  }
  if (!isObject(value)) return undefined;
  if (value.type === "message") return asMessage(value);
  if (value.type === "error") return asError(value);
  if (value.type === "refreshed") return asRefreshed(value);
  return undefined;
}

function asMessage(value: Record<string, unknown>): MessageFrame | undefined {
  const { id, sender, text, sentAt } = value;
  if (typeof id !== "string" || typeof text !== "string" || typeof sentAt !== "string") return undefined;
  if (!isObject(sender) || typeof sender.userId !== "string") return undefined;
  const name = typeof sender.name === "string" && sender.name !== "" ? sender.name : undefined;
  return { type: "message", id, text, sentAt, sender: { userId: sender.userId, ...(name ? { name } : {}) } };
}

function asError(value: Record<string, unknown>): ErrorFrame | undefined {
  const { code, message } = value;
  if (typeof code !== "string" || typeof message !== "string") return undefined;
  return { type: "error", code: code as ErrorFrame["code"], message };
}

function asRefreshed(value: Record<string, unknown>): RefreshedFrame | undefined {
  return typeof value.expiresAt === "number" && Number.isFinite(value.expiresAt)
    ? { type: "refreshed", expiresAt: value.expiresAt }
    : undefined;
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

export function sendMessageFrame(text: string): SendMessageRequest {
  return { action: RouteKey.SendMessage, text: text.trim() };
}

export function refreshFrame(token: string): RefreshRequest {
  return { action: RouteKey.Refresh, token };
}
