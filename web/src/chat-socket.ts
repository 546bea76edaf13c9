import { CHAT_SUBPROTOCOL, ErrorCode, TOKEN_QUERY_PARAMETER, TokenTransport } from "../../core/protocol.js";
import { Backoff, type BackoffOptions } from "./backoff.js";
import { type ClientFrame, type IncomingFrame, parseServerFrame, refreshFrame, sendMessageFrame } from "./frames.js";
import { REFRESH_MARGIN_SECONDS, tokenExpiry, tokenSubject } from "./jwt.js";
import { clockForToken, extendClock, renewalDelay, type SessionClock } from "./session-clock.js";

/**
 * The connection as the page sees it:
 * - `signed-out`: no socket and no retries (stopped on sign-out, no session left, or the session is now someone
 *   else's: see `ChatSocketOptions.userId`);
 * - `connecting`: the first attempt after start;
 * - `live`: open, messages can be sent;
 * - `reconnecting`: after a drop or a failed attempt, waiting until `retryAt` or trying again.
 */
export type ConnectionState =
  | { status: "signed-out"; reason: "stopped" | "no-session" | "other-user" }
  | { status: "connecting" }
  | { status: "live" }
  | { status: "reconnecting"; attempt: number; retryAt: number; reason: RetryReason };

/**
 * `dropped`: an open socket closed. `refused`: the socket never opened. A 401 from the authorizer looks exactly like
 * an unreachable server to a browser (close code 1006 before open), so a refusal also re-checks the session.
 * `auth-unavailable`: no token could be fetched (auth API unreachable). `cannot-open`: the browser would not even
 * create the socket (an invalid URL, or `ws://` from an `https` page): a configuration problem, retried all the same.
 */
export type RetryReason = "dropped" | "refused" | "auth-unavailable" | "cannot-open";

/** The part of the DOM WebSocket this class uses; tests pass a fake. */
export interface SocketLike {
  readonly readyState: number;
  onopen: ((event: Event) => void) | null;
  onclose: ((event: CloseEvent) => void) | null;
  onmessage: ((event: MessageEvent) => void) | null;
  onerror: ((event: Event) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

/** How the token reaches the authorizer at connect; one function per transport the stack can be set to. */
export type OpenSocket = (url: string, token: string) => SocketLike;

/** `?token=...`: what the SuperTokens guide does, and the default. URLs can end up in logs, hence the alternative. */
export const queryStringTransport =
  (parameter: string = TOKEN_QUERY_PARAMETER): OpenSocket =>
  (url, token) => {
    const separator = url.includes("?") ? "&" : "?";
    return new WebSocket(`${url}${separator}${parameter}=${encodeURIComponent(token)}`);
  };

/**
 * `Sec-WebSocket-Protocol: supertokens-chat, <token>`: keeps the token out of URLs. The server answers with the chat
 * protocol alone; a browser drops a socket whose answer names a protocol it did not offer.
 */
export const subprotocolTransport =
  (protocol: string = CHAT_SUBPROTOCOL): OpenSocket =>
  (url, token) =>
    new WebSocket(url, [protocol, token]);

export const transportFor = (transport: TokenTransport): OpenSocket =>
  transport === TokenTransport.Subprotocol ? subprotocolTransport() : queryStringTransport();

export interface ChatSocketOptions {
  url: string;
  /** A token good for at least a minute; undefined when signed out. Rejects only on transient failures. */
  getToken(options: { forceRefresh: boolean }): Promise<string | undefined>;
  /**
   * The user the page shows. Tabs share SuperTokens' session cookies, so once another tab signs in as someone else,
   * the next token is theirs: a token whose `sub` is another user's is never sent, and the socket stops for good
   * (`signed-out`, `other-user`) rather than connect, or renew, as someone the page does not show.
   */
  userId?: string;
  /** @default queryStringTransport() */
  openSocket?: OpenSocket;
  backoff?: BackoffOptions;
  /** A socket that has not opened by then is abandoned and retried. @default 15000 */
  connectTimeoutMs?: number;
  /** The backoff starts over only after a connection stayed up this long, so accept-then-drop is not hammered. @default 5000 */
  stableAfterMs?: number;
  /**
   * Renew the session over the open socket (`{"action":"refresh"}`) this long before the token's `exp`; `false`
   * leaves expiry to the server, which closes the socket, and the reconnect path. @default REFRESH_MARGIN_SECONDS
   */
  renewBeforeSeconds?: number | false;
  /**
   * Nothing sent for this long while live: send a keep-alive (a `refresh` with the current token). API Gateway closes
   * a socket after 10 minutes without traffic, and a hidden tab's timers may fire up to a minute late. @default 480000
   */
  keepAliveAfterMs?: number;
  /** A keep-alive with no answer (no frame at all) by then: the socket is taken for dead and replaced. @default 10000 */
  keepAliveTimeoutMs?: number;
  now?: () => number;
}

const OPEN = 1;
/** Close codes a server may use for "your credentials are no good": policy violation and the 4401/4403 convention. */
const AUTH_CLOSE_CODES = new Set([1008, 4401, 4403]);
/** Error frames after which only a new connection with a re-checked session helps. */
const SESSION_ERRORS = new Set<string>([ErrorCode.Unauthenticated, ErrorCode.SessionExpired, ErrorCode.InvalidToken]);
/** A renewal that could not be done (auth API or the server's JWKS out of reach) is tried again after this long. */
const RENEW_RETRY_MS = 10_000;
/** Refusals in a row between two session re-checks. */
const RECHECK_SESSION_EVERY = 4;

/**
 * One chat connection with a life of its own: opens with a fresh token, renews the session over the socket before the
 * token expires, reconnects after drops with exponential backoff and full jitter (a fresh token every attempt), and
 * stops for good when the session is gone.
 */
export class ChatSocket {
  private stateValue: ConnectionState = { status: "signed-out", reason: "stopped" };
  private socket: SocketLike | undefined;
  private readonly backoff: Backoff;
  /** Bumped by start/stop: async work begun under an older generation finds it stale and drops its result. */
  private generation = 0;
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  private renewalTimer: ReturnType<typeof setTimeout> | undefined;
  /** A connect attempt is under way (fetching a token or handshaking): `retryNow` must not start a second one. */
  private attempting = false;
  private forceRefreshNext = false;
  private refusedInARow = 0;
  /**
   * The live connection's session: when it ends as the server holds it (the token's `exp`, then `refreshed`), and on
   * this page's clock, measured from `token` (the last one sent).
   */
  private session: { expiresAt: number | undefined; token: string; clock: SessionClock | undefined } | undefined;
  private lastSentAt = 0;
  private lastHeardAt = 0;
  /** A `refresh` is on its way (its token being fetched): traffic enough, no keep-alive needed beside it. */
  private fetchingRefreshToken = false;
  /** A keep-alive is out and nothing has come back since. */
  private probeTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly stateListeners = new Set<(state: ConnectionState) => void>();
  private readonly frameListeners = new Set<(frame: IncomingFrame) => void>();
  private readonly openSocket: OpenSocket;
  private readonly now: () => number;

  constructor(private readonly options: ChatSocketOptions) {
    this.backoff = new Backoff(options.backoff);
    this.openSocket = options.openSocket ?? queryStringTransport();
    this.now = options.now ?? Date.now;
  }

  get state(): ConnectionState {
    return this.stateValue;
  }

  /** `exp` (epoch seconds) the server holds for the live connection: from the token, then from `refreshed` frames. */
  get sessionExpiresAt(): number | undefined {
    return this.session?.expiresAt;
  }

  onState(listener: (state: ConnectionState) => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  onFrame(listener: (frame: IncomingFrame) => void): () => void {
    this.frameListeners.add(listener);
    return () => this.frameListeners.delete(listener);
  }

  /** Connects, unless already connected or trying. */
  start(): void {
    if (this.stateValue.status !== "signed-out") return;
    this.backoff.reset();
    this.refusedInARow = 0;
    this.setState({ status: "connecting" });
    void this.connect(++this.generation);
  }

  /** Closes the socket and stops retrying (sign-out, page put into the back/forward cache). */
  stop(reason: "stopped" | "no-session" | "other-user" = "stopped"): void {
    this.generation++;
    this.attempting = false;
    this.clearTimers();
    const socket = this.socket;
    this.socket = undefined;
    this.session = undefined;
    if (socket) {
      socket.onopen = socket.onmessage = socket.onerror = socket.onclose = null;
      socket.close(1000, "signed out");
    }
    this.setState({ status: "signed-out", reason });
  }

  /** Skips the wait of a pending retry (the browser came back online, or the person pressed "retry"). */
  retryNow(): void {
    const state = this.stateValue;
    if (state.status !== "reconnecting" || this.attempting) return;
    // Asked for explicitly, a session re-check is worth one refresh call if the server has been refusing us.
    if (state.reason === "refused") this.forceRefreshNext = true;
    this.clearTimers();
    void this.connect(this.generation);
  }

  /**
   * Checks that a live socket still carries traffic (the browser came back online, the tab became visible again: a
   * laptop that slept may hold a half-open socket): sends a keep-alive now, and replaces the socket if nothing answers.
   */
  probe({ unlessHeardWithinMs = 0 } = {}): void {
    const socket = this.socket;
    if (this.stateValue.status !== "live" || !socket || this.probeTimer !== undefined || this.fetchingRefreshToken) {
      return;
    }
    // A frame that came moments ago is proof enough: a tab shown and hidden all day costs no request each time.
    if (this.now() - this.lastHeardAt < unlessHeardWithinMs) return;
    // Started before the token is fetched: a fetch that hangs or fails (offline) leaves the socket unproven too.
    this.probeTimer = this.later(this.options.keepAliveTimeoutMs ?? 10_000, () => {
      this.probeTimer = undefined;
      if (this.socket === socket) this.abandon(socket);
    });
    void this.renew(socket, false, false);
  }

  /** Sends a chat message to a room; false when the connection is not live (nothing is queued). */
  sendMessage(room: string, text: string): boolean {
    return this.send(sendMessageFrame(room, text));
  }

  /** Sends any client frame; false when the connection is not live. */
  send(frame: ClientFrame): boolean {
    const socket = this.socket;
    if (this.stateValue.status !== "live" || !socket || socket.readyState !== OPEN) return false;
    socket.send(JSON.stringify(frame));
    this.lastSentAt = this.now();
    return true;
  }

  private async connect(generation: number): Promise<void> {
    this.attempting = true;
    let token: string | undefined;
    const forceRefresh = this.forceRefreshNext;
    try {
      token = await this.options.getToken({ forceRefresh });
    } catch {
      if (generation === this.generation) this.retryLater("auth-unavailable");
      return;
    }
    if (generation !== this.generation) return;
    if (token === undefined) {
      // No session: retrying cannot help until someone signs in again.
      this.stop("no-session");
      return;
    }
    if (this.isSomeoneElses(token)) return this.stop("other-user");
    this.forceRefreshNext = false;
    const clock = clockForToken(token, this.now(), forceRefresh);

    let socket: SocketLike;
    try {
      socket = this.openSocket(this.options.url, token);
    } catch {
      // The browser refused to create it (SyntaxError, SecurityError): no close event will come to retry from.
      this.retryLater("cannot-open");
      return;
    }
    this.socket = socket;
    let opened = false;
    const connectTimer = this.later(this.options.connectTimeoutMs ?? 15_000, () => socket.close());

    socket.onopen = () => {
      this.cancel(connectTimer);
      this.attempting = false;
      opened = true;
      this.refusedInARow = 0;
      this.session = { expiresAt: tokenExpiry(token), token, clock };
      this.lastSentAt = this.lastHeardAt = this.now();
      this.setState({ status: "live" });
      this.later(this.options.stableAfterMs ?? 5_000, () => this.backoff.reset());
      this.scheduleRenewal(socket);
      this.keepAlive(socket);
    };
    socket.onmessage = (event) => {
      // Anything that arrives proves the socket is alive: a keep-alive's answer, or anyone else's traffic.
      this.lastHeardAt = this.now();
      if (this.probeTimer !== undefined) this.cancel(this.probeTimer);
      this.probeTimer = undefined;
      const frame = parseServerFrame(event.data);
      if (!frame) return;
      if (frame.type === "refreshed" && this.session) {
        const { clock: measured } = this.session;
        this.session.expiresAt = frame.expiresAt;
        this.session.clock = measured && extendClock(measured, frame.expiresAt);
        this.scheduleRenewal(socket);
      }
      for (const listener of this.frameListeners) listener(frame);
      if (frame.type === "error" && frame.code === ErrorCode.AuthUnavailable) {
        // The server could not check our renewal (its signing keys are out of reach); the session stands until it
        // expires, so keep the socket and renew again shortly. A reconnect now would be refused for the same reason.
        this.renewLater(socket);
        return;
      }
      if (frame.type === "error" && SESSION_ERRORS.has(frame.code)) {
        // The server no longer accepts this connection's session (or our renewal of it). A new socket, opened with
        // a re-checked session, is the way back; the server may close this one itself, closing first is harmless.
        this.forceRefreshNext = true;
        socket.close(4000, "re-authenticating");
      }
    };
    socket.onerror = () => {}; // a close event always follows and carries what there is to know
    socket.onclose = (event) => {
      this.cancel(connectTimer);
      if (this.socket !== socket) return;
      this.socket = undefined;
      this.session = undefined;
      if (!opened) {
        // Re-check the session on the first refusal of a run and every few after, not on every attempt: while the
        // server is merely down that would cost a refresh call per retry. The later re-checks catch a token that
        // only looks fresh to us (our clock is off, the signing key rotated).
        if (this.refusedInARow++ % RECHECK_SESSION_EVERY === 0) this.forceRefreshNext = true;
        this.retryLater("refused");
        return;
      }
      if (AUTH_CLOSE_CODES.has(event.code)) this.forceRefreshNext = true;
      this.retryLater("dropped");
    };
  }

  /**
   * A socket that left a keep-alive unanswered: not waited on to close (a half-open one can take minutes to report
   * it), but replaced through the usual reconnect path.
   */
  private abandon(socket: SocketLike): void {
    socket.onopen = socket.onmessage = socket.onerror = socket.onclose = null;
    socket.close(4000, "no answer");
    this.socket = undefined;
    this.session = undefined;
    this.retryLater("dropped");
  }

  /** Sends a keep-alive whenever nothing has been sent over `socket` for `keepAliveAfterMs`. */
  private keepAlive(socket: SocketLike): void {
    const after = this.options.keepAliveAfterMs ?? 480_000;
    const idle = this.now() - this.lastSentAt;
    // Checked when the quiet stretch could have run out, not re-armed on every send.
    this.later(idle >= after ? after : after - idle, () => {
      if (this.socket !== socket) return;
      if (this.now() - this.lastSentAt >= after) this.probe();
      this.keepAlive(socket);
    });
  }

  private retryLater(reason: RetryReason): void {
    this.attempting = false;
    this.clearTimers();
    const delay = this.backoff.next();
    this.setState({ status: "reconnecting", attempt: this.backoff.attempts, retryAt: this.now() + delay, reason });
    const generation = this.generation;
    this.later(delay, () => void this.connect(generation));
  }

  /** Plans the next `refresh` over `socket`, ahead of the session's expiry. */
  private scheduleRenewal(socket: SocketLike): void {
    if (this.renewalTimer !== undefined) this.cancel(this.renewalTimer);
    this.renewalTimer = undefined;
    const margin = this.options.renewBeforeSeconds ?? REFRESH_MARGIN_SECONDS;
    const clock = this.session?.clock;
    if (margin === false || clock === undefined) return;
    this.renewalTimer = this.later(renewalDelay(clock, this.now(), margin), () => void this.renew(socket));
  }

  /**
   * Renews again shortly, with the token as it is unless it has gone stale: the last attempt's token is still good,
   * and forcing a refresh every 10 s would rotate the session's refresh token as often.
   */
  private renewLater(socket: SocketLike): void {
    if (this.renewalTimer !== undefined) this.cancel(this.renewalTimer);
    this.renewalTimer = this.later(RENEW_RETRY_MS, () => void this.renew(socket, false));
  }

  /**
   * Sends `refresh` with a token from `getToken`. `retry`: a renewal, sent again shortly until answered; a keep-alive
   * is not (`probe` watches for its answer).
   */
  private async renew(socket: SocketLike, forceRefresh = true, retry = true): Promise<void> {
    let token: string | undefined;
    this.fetchingRefreshToken = true;
    try {
      token = await this.options.getToken({ forceRefresh });
    } catch {
      // Auth API unreachable: try again shortly; if the session runs out first, the server ends it and we reconnect.
      if (this.socket === socket && retry) this.renewLater(socket);
      return;
    } finally {
      this.fetchingRefreshToken = false;
    }
    if (this.socket !== socket) return;
    if (token === undefined) return this.stop("no-session");
    if (this.isSomeoneElses(token)) return this.stop("other-user");
    // The server's `refreshed` will be read against this token (the same one again keeps how it was measured).
    if (this.session && this.session.token !== token) {
      this.session = { ...this.session, token, clock: clockForToken(token, this.now(), forceRefresh) };
    }
    this.send(refreshFrame(token));
    // The server's `refreshed` plans the next renewal. Until it comes, try again shortly: API Gateway may have
    // throttled or failed this one (its error names no frame), and the session would otherwise run out.
    if (retry) this.renewLater(socket);
  }

  /** The token is another user's than the page shows (a token whose `sub` cannot be read is left to the server). */
  private isSomeoneElses(token: string): boolean {
    const subject = tokenSubject(token);
    return this.options.userId !== undefined && subject !== undefined && subject !== this.options.userId;
  }

  private setState(state: ConnectionState): void {
    this.stateValue = state;
    for (const listener of this.stateListeners) listener(state);
  }

  private later(ms: number, fn: () => void): ReturnType<typeof setTimeout> {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms);
    this.timers.add(timer);
    return timer;
  }

  private cancel(timer: ReturnType<typeof setTimeout>): void {
    clearTimeout(timer);
    this.timers.delete(timer);
  }

  private clearTimers(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.renewalTimer = undefined;
    this.probeTimer = undefined;
  }
}
