import { type Env, EnvVar } from "./env.js";

/**
 * Structured JSON logs, one object per line, small enough that the authorizer bundle stays tiny. Callers add
 * context (connection id, request id) with `child`; nothing here knows about tokens, so never pass one in.
 */
export const LogLevel = { debug: 10, info: 20, warn: 30, error: 40 } as const;
export type LogLevel = keyof typeof LogLevel;

export type LogFields = Record<string, unknown>;
export type LogSink = (line: string) => void;

export interface LoggerOptions {
  /** Lowest level written. @default "info" */
  level?: LogLevel;
  /** Fields on every line. @default {} */
  fields?: LogFields;
  /** Where lines go. @default process.stdout */
  sink?: LogSink;
}

export class Logger {
  private readonly level: LogLevel;
  private readonly fields: LogFields;
  private readonly sink: LogSink;

  constructor(options: LoggerOptions = {}) {
    this.level = options.level ?? "info";
    this.fields = options.fields ?? {};
    this.sink = options.sink ?? ((line) => process.stdout.write(`${line}\n`));
  }

  /** A logger that adds `fields` to every line. */
  child(fields: LogFields): Logger {
    return new Logger({ level: this.level, fields: { ...this.fields, ...fields }, sink: this.sink });
  }

  debug(message: string, fields?: LogFields): void {
    this.write("debug", message, fields);
  }
  info(message: string, fields?: LogFields): void {
    this.write("info", message, fields);
  }
  warn(message: string, fields?: LogFields): void {
    this.write("warn", message, fields);
  }
  error(message: string, fields?: LogFields): void {
    this.write("error", message, fields);
  }

  private write(level: LogLevel, message: string, fields?: LogFields): void {
    if (LogLevel[level] < LogLevel[this.level]) return;
    this.sink(
      JSON.stringify({ level, message, timestamp: new Date().toISOString(), ...this.fields, ...fields }, errorReplacer),
    );
  }
}

/** The handlers' logger, at `LOG_LEVEL`. */
export const loggerFromEnv = (env: Env): Logger => new Logger({ level: parseLogLevel(env[EnvVar.LogLevel]) });

/** Parses `LOG_LEVEL`, falling back to `info` for anything unknown. */
function parseLogLevel(value: string | undefined): LogLevel {
  const lower = value?.toLowerCase();
  return lower !== undefined && lower in LogLevel ? (lower as LogLevel) : "info";
}

// Errors serialize to {} by default; keep their name and message (never their whole object graph).
function errorReplacer(_key: string, value: unknown): unknown {
  return value instanceof Error ? { name: value.name, message: value.message } : value;
}
