/** API Gateway's two connection limits, in milliseconds here so tests can shorten them. */
export interface ConnectionLimits {
  /** Closed after this long without a client message. */
  idleTimeoutMs: number;
  /** Closed this long after connecting, whatever happens. */
  maxConnectionAgeMs: number;
}

export type Expiry = "idle" | "max-age";

/**
 * The idle and maximum-age timers of one connection. Only client data messages count as activity: a browser cannot
 * send pings, and messages the server sends are not taken to keep a connection alive.
 */
export class ConnectionTimers {
  private idle?: NodeJS.Timeout;
  private maxAge?: NodeJS.Timeout;

  constructor(
    private readonly limits: ConnectionLimits,
    private readonly onExpire: (expiry: Expiry) => void,
  ) {}

  start(): void {
    this.maxAge = setTimeout(() => this.expire("max-age"), this.limits.maxConnectionAgeMs).unref();
    this.touch();
  }

  /** A client message arrived: the idle clock starts again. */
  touch(): void {
    clearTimeout(this.idle);
    this.idle = setTimeout(() => this.expire("idle"), this.limits.idleTimeoutMs).unref();
  }

  stop(): void {
    clearTimeout(this.idle);
    clearTimeout(this.maxAge);
  }

  private expire(expiry: Expiry): void {
    this.stop();
    this.onExpire(expiry);
  }
}
