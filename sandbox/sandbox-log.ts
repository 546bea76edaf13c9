import { type Clock, systemClock } from "../core/clock.js";
import { Logger, LogLevel, type LogSink } from "../core/logger.js";
import type { ConnectionInfo } from "./connection-registry.js";
import type { FanoutQueueLog } from "./fanout-queue.js";
import type { CloseCause, GatewayLog } from "./gateway.js";

export interface SandboxLogOptions {
  /** Where readable lines go. @default stdout */
  sink?: LogSink;
  /** `debug` also shows every handler line. @default "info" */
  level?: LogLevel;
  clock?: Clock;
  /** Also gets every JSON line the handlers log, unfiltered (for tests that check the structured log). */
  handlerSink?: LogSink;
}

/** Fields of a handler line that may be shown. Anything else (and so anything a future field might leak) is not. */
const SHOWN_FIELDS = ["connectionId", "userId", "room", "routeKey", "reason", "code", "attempt", "error"] as const;
/** Counts of a broadcast, in the order shown; zeros are left out but for `delivered`. */
const BROADCAST_COUNTS = [
  "delivered",
  "gone",
  "expired",
  "failed",
  "retries",
  "resent",
  "queued",
  "batchesQueued",
] as const;
/** Handler lines the gateway's own lines already say, shown only at `debug`. */
const REPEATED = new Set(["connect authorized", "connected", "disconnected"]);
/** A JWT, in case one ever reaches a line: three base64url parts starting with `{"`. */
const JWT_PATTERN = /eyJ[\w-]*\.[\w-]*\.[\w-]*/g;

/**
 * The sandbox's readable log: one short line per connect, refused connect (with the reason category), message and
 * disconnect. The handlers get a core `Logger` whose JSON lines come here and are turned into the same kind of line.
 * Never shows a token: only whitelisted fields are printed, URLs are never printed, and JWT-shaped text is masked.
 */
export class SandboxLog implements GatewayLog, FanoutQueueLog {
  /** The logger the handlers are built with. */
  readonly handlerLogger: Logger;
  private readonly sink: LogSink;
  private readonly level: LogLevel;
  private readonly clock: Clock;
  /** The authorizer's reason for a refusal, until the gateway reports the status it answered. */
  private readonly refusalReasons = new Map<string, string>();

  constructor(options: SandboxLogOptions = {}) {
    this.sink = options.sink ?? ((line) => process.stdout.write(`${line}\n`));
    this.level = options.level ?? "info";
    this.clock = options.clock ?? systemClock;
    const handlerSink = options.handlerSink;
    this.handlerLogger = new Logger({
      level: this.level,
      sink: (line) => {
        handlerSink?.(line);
        this.fromHandler(line);
      },
    });
  }

  info(text: string): void {
    this.write("info", "sandbox", text);
  }

  warn(text: string): void {
    this.write("warn", "WARN", text);
  }

  connected(connection: ConnectionInfo): void {
    this.write("info", "connect", `${who(connection)}  conn ${connection.connectionId}  from ${connection.sourceIp}`);
  }

  refused(connectionId: string, status: number, detail: string): void {
    const reason = this.refusalReasons.get(connectionId) ?? detail;
    this.refusalReasons.delete(connectionId);
    this.write("info", "refused", `${status} ${reason}  conn ${connectionId}`);
  }

  disconnected(connection: ConnectionInfo, close: { code: number; reason: string; cause: CloseCause }): void {
    const reason = close.reason ? ` ${close.reason}` : "";
    this.write(
      "info",
      "disconnect",
      `${who(connection)}  conn ${connection.connectionId}  ${close.code}${reason} (${close.cause})`,
    );
  }

  dropped(connection: ConnectionInfo): void {
    this.write("info", "dropped", `${who(connection)}  conn ${connection.connectionId}  (test hook: no $disconnect)`);
  }

  routeFailed(connectionId: string, routeKey: string, error: unknown): void {
    this.write("error", "ERROR", `${routeKey} failed  conn ${connectionId}: ${describeError(error)}`);
  }

  /** A page-server request failed on the server's side (the client got a 500). */
  pageFailed(path: string, error: unknown): void {
    this.write("error", "ERROR", `page server ${path} failed: ${describeError(error)}`);
  }

  workerFailed(messageId: string, error: unknown): void {
    this.write("error", "ERROR", `fan-out worker failed  batch ${messageId}: ${describeError(error)}`);
  }

  deadLettered(messageId: string, receives: number): void {
    this.write("warn", "WARN", `fan-out batch ${messageId} given up after ${receives} receives (dead-letter queue)`);
  }

  private fromHandler(json: string): void {
    let entry: Record<string, unknown>;
    try {
      entry = JSON.parse(json) as Record<string, unknown>;
    } catch {
      return;
    }
    const level = (typeof entry.level === "string" && entry.level in LogLevel ? entry.level : "info") as LogLevel;
    const message = String(entry.message ?? "");
    const connectionId = typeof entry.connectionId === "string" ? entry.connectionId : undefined;
    if (message === "connect refused" && connectionId) {
      // Printed with the status by `refused`, as one line.
      this.refusalReasons.set(connectionId, String(entry.reason));
      return;
    }
    if (message === "message broadcast") {
      const room = typeof entry.room === "string" ? `  room ${entry.room}` : "";
      this.write(
        level,
        "message",
        `from ${String(entry.userId)}${room}  id ${String(entry.messageId)}: ${counts(entry)}`,
      );
      return;
    }
    if (message === "fan-out batch sent") {
      this.write(level, "fan-out", `batch ${String(entry.messageId)}: ${counts(entry)}`);
      return;
    }
    if (message === "request refused") {
      this.write(level, "bad frame", `${String(entry.code)} to conn ${connectionId}`);
      return;
    }
    if (REPEATED.has(message) && this.level !== "debug") return;
    const fields = SHOWN_FIELDS.filter((key) => entry[key] !== undefined)
      .map((key) => `${key}=${key === "error" ? describeError(entry[key]) : String(entry[key])}`)
      .join(" ");
    this.write(level, level === "info" || level === "debug" ? "handler" : level.toUpperCase(), `${message} ${fields}`);
  }

  private write(level: LogLevel, tag: string, text: string): void {
    if (LogLevel[level] < LogLevel[this.level]) return;
    const time = new Date(this.clock());
    const stamp = [time.getHours(), time.getMinutes(), time.getSeconds()]
      .map((part) => String(part).padStart(2, "0"))
      .join(":");
    this.sink(`${stamp}  ${tag.padEnd(10)}  ${text.trimEnd()}`.replace(JWT_PATTERN, "<token>"));
  }
}

function counts(entry: Record<string, unknown>): string {
  return BROADCAST_COUNTS.filter((key) => key === "delivered" || Number(entry[key]) > 0)
    .map((key) => `${key} ${Number(entry[key])}`)
    .join(", ");
}

function who(connection: ConnectionInfo): string {
  const userId = connection.authorizer.userId ?? connection.principalId ?? "?";
  const name = connection.authorizer.name;
  return name ? `${name} (${userId})` : userId;
}

function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  if (typeof error === "object" && error !== null) {
    const { name, message } = error as { name?: unknown; message?: unknown };
    return `${String(name ?? "Error")}: ${String(message ?? "")}`;
  }
  return String(error);
}
