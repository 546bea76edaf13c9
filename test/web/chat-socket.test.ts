import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  ChatSocket,
  type ChatSocketOptions,
  type ConnectionState,
  queryStringTransport,
  type SocketLike,
  subprotocolTransport,
} from "../../web/src/chat-socket.js";

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
/** A token as the server issues it: `iat` is the server's now, which the page's clock may not agree with. */
const tokenFor = (n: number, lifetimeSeconds = 3600, sub = "u1", serverNow = Date.now()) => {
  const iat = Math.floor(serverNow / 1000);
  return `h.${b64url({ sub, n, iat, exp: iat + lifetimeSeconds })}.s`;
};

/** A WebSocket stand-in the test drives: the "server" opens, refuses, drops or sends. */
class FakeSocket implements SocketLike {
  readyState = 0;
  onopen: ((event: Event) => void) | null = null;
  onclose: ((event: CloseEvent) => void) | null = null;
  onmessage: ((event: MessageEvent) => void) | null = null;
  onerror: ((event: Event) => void) | null = null;
  sent: unknown[] = [];
  closedWith: number | undefined;

  constructor(
    readonly url: string,
    readonly token: string,
  ) {}

  send(data: string) {
    this.sent.push(JSON.parse(data));
  }
  close(code = 1005) {
    if (this.readyState === 3) return;
    this.closedWith = code;
    this.readyState = 3;
    // Browsers report the close asynchronously.
    queueMicrotask(() => this.onclose?.({ code } as CloseEvent));
  }
  open() {
    this.readyState = 1;
    this.onopen?.({} as Event);
  }
  /** The handshake failed (a 401 from the authorizer looks like this in a browser). */
  refuse() {
    this.readyState = 3;
    this.onclose?.({ code: 1006 } as CloseEvent);
  }
  drop(code = 1006) {
    this.readyState = 3;
    this.onclose?.({ code } as CloseEvent);
  }
  receive(frame: unknown) {
    this.onmessage?.({ data: JSON.stringify(frame) } as MessageEvent);
  }
}

function setup(overrides: Partial<ChatSocketOptions> = {}) {
  const sockets: FakeSocket[] = [];
  const states: ConnectionState[] = [];
  let issued = 0;
  const getToken = vi.fn<ChatSocketOptions["getToken"]>(async () => tokenFor(++issued));
  const chat = new ChatSocket({
    url: "ws://chat.test/prod",
    getToken,
    openSocket: (url, token) => {
      const socket = new FakeSocket(url, token);
      sockets.push(socket);
      return socket;
    },
    backoff: { random: () => 1 - 1e-12 }, // worst case: the full ceiling
    ...overrides,
  });
  chat.onState((state) => states.push(state));
  const last = () => {
    const socket = sockets.at(-1);
    if (!socket) throw new Error("no socket opened");
    return socket;
  };
  return { chat, sockets, states, getToken, last };
}

/** Lets pending promises (token fetches) settle without moving the clock. */
const settle = () => vi.advanceTimersByTimeAsync(0);

/** Starts `chat` and opens its first socket: the connection is live. */
async function startLive(chat: ChatSocket, last: () => FakeSocket) {
  chat.start();
  await settle();
  last().open();
}

/** Starts `chat` and checks that it stopped for good on its first token: no socket, no retry, one token asked. */
async function expectStoppedAtStart(
  { chat, sockets, getToken, states }: Pick<ReturnType<typeof setup>, "chat" | "sockets" | "getToken" | "states">,
  reason: "no-session" | "other-user",
) {
  chat.start();
  await settle();
  expect(chat.state).toEqual({ status: "signed-out", reason });
  await vi.advanceTimersByTimeAsync(120_000);
  expect(sockets).toHaveLength(0);
  expect(getToken).toHaveBeenCalledTimes(1);
  expect(states.map((s) => s.status)).toEqual(["connecting", "signed-out"]);
}

beforeEach(() => {
  vi.useFakeTimers({ now: new Date("2030-01-01T00:00:00Z") });
});
afterEach(() => {
  vi.useRealTimers();
});

describe("ChatSocket", () => {
  it("puts the token in the query string, URL-encoded (the default transport), or in the subprotocol list", () => {
    const opened: unknown[][] = [];
    vi.stubGlobal(
      "WebSocket",
      class {
        constructor(...args: unknown[]) {
          opened.push(args);
        }
      },
    );
    try {
      queryStringTransport()("wss://chat.test/prod", "a.b+c/d=");
      queryStringTransport()("ws://127.0.0.1:3001/prod?x=1", "t");
      subprotocolTransport()("wss://chat.test/prod", "h.p.s");
    } finally {
      vi.unstubAllGlobals();
    }
    expect(opened).toEqual([
      ["wss://chat.test/prod?token=a.b%2Bc%2Fd%3D"],
      ["ws://127.0.0.1:3001/prod?x=1&token=t"],
      ["wss://chat.test/prod", ["supertokens-chat", "h.p.s"]],
    ]);
  });

  it("connects with a fresh token and goes live", async () => {
    const { chat, last, getToken, states } = setup();
    chat.start();
    expect(chat.state.status).toBe("connecting");
    await settle();
    expect(getToken).toHaveBeenCalledWith({ forceRefresh: false });
    expect(last().url).toBe("ws://chat.test/prod");
    expect(last().token).toMatch(/^h\./);

    last().open();
    expect(chat.state.status).toBe("live");
    expect(states.map((s) => s.status)).toEqual(["connecting", "live"]);
    expect(chat.sendMessage("design", "  hello  ")).toBe(true);
    expect(last().sent).toEqual([{ action: "sendmessage", room: "design", text: "hello" }]);
  });

  it("refuses to send unless live", async () => {
    const { chat, last } = setup();
    expect(chat.sendMessage("lobby", "too early")).toBe(false);
    chat.start();
    await settle();
    expect(chat.sendMessage("lobby", "still connecting")).toBe(false);
    last().open();
    last().drop();
    expect(chat.state.status).toBe("reconnecting");
    expect(chat.sendMessage("lobby", "while reconnecting")).toBe(false);
    expect(last().sent).toEqual([]);
  });

  it("reconnects by itself after a drop, with a new token each attempt", async () => {
    const { chat, sockets, last, getToken } = setup();
    await startLive(chat, last);
    last().drop(1001);
    const state = chat.state;
    expect(state).toMatchObject({ status: "reconnecting", reason: "dropped", attempt: 1 });
    if (state.status !== "reconnecting") throw new Error("unreachable");
    expect(state.retryAt - Date.now()).toBeLessThan(500); // first retry: within the 0.5 s base

    await vi.advanceTimersByTimeAsync(500);
    expect(sockets).toHaveLength(2);
    expect(sockets[1]?.token).not.toBe(sockets[0]?.token);
    expect(getToken).toHaveBeenLastCalledWith({ forceRefresh: false });
    last().open();
    expect(chat.state.status).toBe("live");
  });

  it("backs off exponentially while refused, re-checking the session now and then", async () => {
    const { chat, sockets, last, getToken } = setup();
    chat.start();
    await settle();
    const delays: number[] = [];
    for (let i = 0; i < 7; i++) {
      last().refuse();
      const state = chat.state;
      if (state.status !== "reconnecting") throw new Error(`expected reconnecting, got ${state.status}`);
      expect(state.reason).toBe("refused");
      delays.push(state.retryAt - Date.now());
      await vi.advanceTimersByTimeAsync(state.retryAt - Date.now());
    }
    expect(delays).toEqual([499, 999, 1999, 3999, 7999, 15999, 29999]); // 0.5 s doubling, capped at 30 s
    expect(sockets).toHaveLength(8);
    // The session is re-checked after the first refusal and every 4th after it, not on every attempt: a server that
    // is down costs few refresh calls.
    expect(getToken.mock.calls.map(([options]) => options.forceRefresh)).toEqual([
      false,
      true,
      false,
      false,
      false,
      true,
      false,
      false,
    ]);
  });

  it("starts the backoff over only after a connection has stayed up for a while", async () => {
    const { chat, last } = setup();
    chat.start();
    await settle();
    const retryDelay = () => {
      const state = chat.state;
      if (state.status !== "reconnecting") throw new Error("not reconnecting");
      return state.retryAt - Date.now();
    };
    last().refuse();
    await vi.advanceTimersByTimeAsync(retryDelay());
    last().refuse();
    await vi.advanceTimersByTimeAsync(retryDelay());
    // Accepted, then dropped at once: still backing off (no tight accept-drop loop).
    last().open();
    last().drop();
    expect(retryDelay()).toBe(1999); // third retry in a row: 0.5 s, 1 s, 2 s
    await vi.advanceTimersByTimeAsync(retryDelay());
    last().open();
    await vi.advanceTimersByTimeAsync(5000);
    last().drop();
    expect(retryDelay()).toBe(499);
  });

  it("goes signed-out, without a reconnect loop, when there is no session", async () => {
    const { chat, sockets, getToken, states } = setup();
    getToken.mockResolvedValue(undefined);
    await expectStoppedAtStart({ chat, sockets, getToken, states }, "no-session");
  });

  it("goes signed-out when the session is found gone after a drop", async () => {
    const { chat, sockets, getToken, last } = setup();
    await startLive(chat, last);
    getToken.mockResolvedValue(undefined);
    last().refuse();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(chat.state).toEqual({ status: "signed-out", reason: "no-session" });
    expect(sockets).toHaveLength(1);
  });

  it("retries with backoff when the token cannot be fetched (auth API unreachable)", async () => {
    const { chat, sockets, getToken, last } = setup();
    getToken.mockRejectedValueOnce(new Error("offline"));
    chat.start();
    await settle();
    expect(chat.state).toMatchObject({ status: "reconnecting", reason: "auth-unavailable" });
    await vi.advanceTimersByTimeAsync(500);
    expect(sockets).toHaveLength(1);
    last().open();
    expect(chat.state.status).toBe("live");
  });

  it("closes the socket on stop and never reconnects", async () => {
    const { chat, sockets, last } = setup();
    await startLive(chat, last);
    chat.stop();
    expect(last().closedWith).toBe(1000);
    expect(chat.state).toEqual({ status: "signed-out", reason: "stopped" });
    expect(chat.sendMessage("lobby", "after sign-out")).toBe(false);
    await vi.advanceTimersByTimeAsync(120_000);
    expect(sockets).toHaveLength(1);
  });

  it("drops a token that arrives after stop instead of opening a socket with it", async () => {
    let release: (token: string) => void = () => {};
    const { chat, sockets, getToken } = setup();
    getToken.mockImplementationOnce(() => new Promise((resolve) => (release = resolve)));
    chat.start();
    chat.stop();
    release(tokenFor(99));
    await settle();
    expect(sockets).toHaveLength(0);
    expect(chat.state.status).toBe("signed-out");
  });

  it("abandons a handshake that hangs and tries again", async () => {
    const { chat, sockets } = setup({ connectTimeoutMs: 10_000 });
    chat.start();
    await settle();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(sockets[0]?.closedWith).toBeDefined();
    expect(chat.state).toMatchObject({ status: "reconnecting", reason: "refused" });
    await vi.advanceTimersByTimeAsync(500);
    expect(sockets).toHaveLength(2);
  });

  it("forwards frames, skipping what it does not understand", async () => {
    const { chat, last } = setup();
    const frames: unknown[] = [];
    chat.onFrame((frame) => frames.push(frame));
    await startLive(chat, last);
    const message = {
      type: "message",
      room: "lobby",
      id: "000000000001",
      sender: { userId: "u2", name: "Bob" },
      text: "hi",
      sentAt: "x",
    };
    last().receive(message);
    last().receive({ type: "typing", room: "lobby" }); // a later server's frame: ignored, not an error
    last().onmessage?.({ data: "not json" } as MessageEvent);
    expect(frames).toEqual([message]);
  });

  it("reconnects with a re-checked session when the server says the session is over", async () => {
    const { chat, last, getToken, sockets } = setup();
    await startLive(chat, last);
    last().receive({ type: "error", code: "session_expired", message: "Your session has expired." });
    expect(last().closedWith).toBe(4000);
    await settle();
    expect(chat.state.status).toBe("reconnecting");
    await vi.advanceTimersByTimeAsync(500);
    expect(sockets).toHaveLength(2);
    expect(getToken).toHaveBeenLastCalledWith({ forceRefresh: true });
  });

  it("keeps other error frames on the same socket", async () => {
    const { chat, last } = setup();
    await startLive(chat, last);
    last().receive({ type: "error", code: "text_too_long", message: "too long" });
    expect(last().closedWith).toBeUndefined();
    expect(chat.state.status).toBe("live");
  });

  it("renews the session over the socket a minute before the token expires", async () => {
    // No keep-alives: with 10-minute tokens they would fall due with the renewals.
    const { chat, last, getToken } = setup({ keepAliveAfterMs: 3_600_000 });
    getToken.mockImplementation(async () => tokenFor(1, 600));
    await startLive(chat, last);
    expect(chat.sessionExpiresAt).toBe(Math.floor(Date.now() / 1000) + 600);

    await vi.advanceTimersByTimeAsync(539_000);
    expect(last().sent).toEqual([]);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(getToken).toHaveBeenLastCalledWith({ forceRefresh: true });
    expect(last().sent).toEqual([{ action: "refresh", token: expect.any(String) }]);

    // The server confirms; the next renewal follows the confirmed expiry.
    const confirmed = Math.floor(Date.now() / 1000) + 600;
    last().receive({ type: "refreshed", expiresAt: confirmed });
    expect(chat.sessionExpiresAt).toBe(confirmed);
    await vi.advanceTimersByTimeAsync(540_000);
    expect(last().sent).toHaveLength(2);
    expect(chat.state.status).toBe("live");
  });

  it("keeps the socket and renews again 10 s later when the server cannot check the renewal just now", async () => {
    const { chat, sockets, last, getToken } = setup({ keepAliveAfterMs: 3_600_000 });
    getToken.mockImplementation(async () => tokenFor(1, 600));
    await startLive(chat, last);
    await vi.advanceTimersByTimeAsync(540_000);
    expect(last().sent).toHaveLength(1);

    last().receive({ type: "error", code: "auth_unavailable", message: "Try again shortly." });
    expect(last().closedWith).toBeUndefined();
    expect(chat.state.status).toBe("live");
    await vi.advanceTimersByTimeAsync(9_000);
    expect(last().sent).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(last().sent).toEqual([
      { action: "refresh", token: expect.any(String) },
      { action: "refresh", token: expect.any(String) },
    ]);
    // The token the first attempt got is still good: sent again, not refreshed again.
    expect(getToken).toHaveBeenLastCalledWith({ forceRefresh: false });
    expect(sockets).toHaveLength(1);
  });

  it("renews again 10 s later when a renewal gets no answer (API Gateway throttled or failed it)", async () => {
    const { chat, sockets, last, getToken } = setup({ keepAliveAfterMs: 3_600_000 });
    getToken.mockImplementation(async () => tokenFor(1, 600));
    await startLive(chat, last);
    await vi.advanceTimersByTimeAsync(540_000);
    last().receive({ message: "Too Many Requests", connectionId: "c", requestId: "r" });
    await vi.advanceTimersByTimeAsync(9_000);
    expect(last().sent).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(last().sent).toHaveLength(2);
    expect(getToken).toHaveBeenLastCalledWith({ forceRefresh: false });
    // Answered now: nothing more until the next renewal is due.
    last().receive({ type: "refreshed", expiresAt: Math.floor(Date.now() / 1000) + 600 });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(last().sent).toHaveLength(2);
    expect(sockets).toHaveLength(1);
    expect(chat.state.status).toBe("live");
  });

  it("does not renew in a tight loop when tokens live shorter than the margin", async () => {
    const { chat, last, getToken } = setup();
    getToken.mockImplementation(async () => tokenFor(1, 30));
    await startLive(chat, last);
    await vi.advanceTimersByTimeAsync(14_000);
    expect(last().sent).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1_000); // half the remaining 30 s
    expect(last().sent).toHaveLength(1);
  });

  it("can leave renewal to the server (renewBeforeSeconds: false)", async () => {
    const { chat, last, sockets } = setup({ renewBeforeSeconds: false, keepAliveAfterMs: 7_200_000 });
    await startLive(chat, last);
    await vi.advanceTimersByTimeAsync(3_600_000);
    expect(last().sent).toEqual([]);
    expect(sockets).toHaveLength(1);
  });

  describe("when the page's clock is off", () => {
    const hour = 3_600_000;

    it("renews once per token lifetime with a clock hours ahead, not every second", async () => {
      const { chat, sockets, last, getToken } = setup({ keepAliveAfterMs: 7_200_000 });
      // The server is two hours behind the page: every token's exp is in the page's past.
      getToken.mockImplementation(async () => tokenFor(1, 3600, "u1", Date.now() - 2 * hour));
      await startLive(chat, last);
      await vi.advanceTimersByTimeAsync(59 * 60_000 - 1);
      expect(last().sent).toEqual([]);
      expect(getToken).toHaveBeenCalledTimes(1);
      await vi.advanceTimersByTimeAsync(1); // a minute before its hour is up
      expect(last().sent).toEqual([{ action: "refresh", token: expect.any(String) }]);
      expect(getToken).toHaveBeenLastCalledWith({ forceRefresh: true });
      // The server's answer is in its own time: the next renewal is an hour on again.
      last().receive({ type: "refreshed", expiresAt: Math.floor((Date.now() - 2 * hour) / 1000) + 3600 });
      await vi.advanceTimersByTimeAsync(59 * 60_000 - 1);
      expect(last().sent).toHaveLength(1);
      await vi.advanceTimersByTimeAsync(1);
      expect(last().sent).toHaveLength(2);
      expect(getToken).toHaveBeenCalledTimes(3);
      expect(sockets).toHaveLength(1);
    });

    it("renews on time with a clock hours behind", async () => {
      const { chat, last, getToken } = setup({ keepAliveAfterMs: 7_200_000 });
      getToken.mockImplementation(async () => tokenFor(1, 3600, "u1", Date.now() + 2 * hour));
      await startLive(chat, last);
      await vi.advanceTimersByTimeAsync(59 * 60_000 - 1);
      expect(last().sent).toEqual([]);
      await vi.advanceTimersByTimeAsync(1);
      expect(last().sent).toEqual([{ action: "refresh", token: expect.any(String) }]);
    });

    it("counts the used part of a token the clock agrees with, so an older token is renewed in time", async () => {
      const { chat, last, getToken } = setup({ keepAliveAfterMs: 7_200_000 });
      // Handed out as it was, 50 minutes into its hour.
      getToken.mockImplementation(async () => tokenFor(1, 3600, "u1", Date.now() - 50 * 60_000));
      await startLive(chat, last);
      await vi.advanceTimersByTimeAsync(9 * 60_000);
      expect(last().sent).toEqual([{ action: "refresh", token: expect.any(String) }]);
    });
  });

  describe("keep-alive", () => {
    const refresh = { action: "refresh", token: expect.any(String) };

    it("sends the current token as a keep-alive after 8 quiet minutes, so API Gateway does not drop the socket", async () => {
      const { chat, sockets, last, getToken } = setup();
      await startLive(chat, last);
      await vi.advanceTimersByTimeAsync(480_000 - 1);
      expect(last().sent).toEqual([]);
      await vi.advanceTimersByTimeAsync(1);
      expect(last().sent).toEqual([refresh]);
      expect(getToken).toHaveBeenLastCalledWith({ forceRefresh: false }); // no token refresh for a keep-alive
      last().receive({ type: "refreshed", expiresAt: Math.floor(Date.now() / 1000) + 3000 });
      await vi.advanceTimersByTimeAsync(480_000);
      expect(last().sent).toEqual([refresh, refresh]);
      expect(sockets).toHaveLength(1);
      expect(chat.state.status).toBe("live");
    });

    it("sends none while messages go out", async () => {
      const { chat, last } = setup();
      await startLive(chat, last);
      await vi.advanceTimersByTimeAsync(300_000);
      chat.sendMessage("lobby", "hi");
      await vi.advanceTimersByTimeAsync(300_000);
      expect(last().sent).toEqual([{ action: "sendmessage", room: "lobby", text: "hi" }]);
      await vi.advanceTimersByTimeAsync(180_000); // 8 minutes after the message
      expect(last().sent).toHaveLength(2);
    });

    it("takes a socket whose keep-alive gets no answer in 10 s for dead and reconnects", async () => {
      const { chat, sockets, last } = setup();
      await startLive(chat, last);
      await vi.advanceTimersByTimeAsync(480_000);
      await vi.advanceTimersByTimeAsync(9_999);
      expect(chat.state.status).toBe("live");
      await vi.advanceTimersByTimeAsync(1);
      expect(sockets[0]?.closedWith).toBeDefined();
      expect(chat.state).toMatchObject({ status: "reconnecting", reason: "dropped" });
      await vi.advanceTimersByTimeAsync(500);
      expect(sockets).toHaveLength(2);
      last().open();
      expect(chat.state.status).toBe("live");
    });

    it("keeps the socket when the keep-alive is answered with an error", async () => {
      const { chat, sockets, last } = setup();
      await startLive(chat, last);
      await vi.advanceTimersByTimeAsync(480_000);
      last().receive({ message: "Too Many Requests", connectionId: "c", requestId: "r" });
      await vi.advanceTimersByTimeAsync(60_000);
      expect(sockets).toHaveLength(1);
      expect(chat.state.status).toBe("live");
    });

    it("probes at once on request (back online, tab shown again), and replaces a half-open socket", async () => {
      const { chat, sockets, last } = setup();
      chat.probe(); // not live: nothing to probe
      await startLive(chat, last);
      chat.probe();
      await settle();
      expect(last().sent).toEqual([refresh]);
      chat.probe(); // one is out already
      await settle();
      expect(last().sent).toEqual([refresh]);
      await vi.advanceTimersByTimeAsync(10_000);
      expect(chat.state).toMatchObject({ status: "reconnecting", reason: "dropped" });
      await vi.advanceTimersByTimeAsync(500);
      expect(sockets).toHaveLength(2);
    });

    it("skips a wake-up probe when a frame came moments ago, and sends one when the socket has been quiet", async () => {
      const { chat, last } = setup();
      await startLive(chat, last);
      await vi.advanceTimersByTimeAsync(60_000);
      last().receive({ type: "refreshed", expiresAt: 9_999_999_999 });
      await vi.advanceTimersByTimeAsync(10_000);
      chat.probe({ unlessHeardWithinMs: 30_000 });
      await settle();
      expect(last().sent).toEqual([]);
      await vi.advanceTimersByTimeAsync(30_000);
      chat.probe({ unlessHeardWithinMs: 30_000 });
      await settle();
      expect(last().sent).toEqual([refresh]);
    });
  });

  it("says it cannot connect, and retries with backoff, when the browser refuses to create the socket", async () => {
    let refuse = true;
    const sockets: FakeSocket[] = [];
    const { chat } = setup({
      openSocket: (url, token) => {
        if (refuse) throw new DOMException("An insecure WebSocket connection may not be initiated", "SecurityError");
        const socket = new FakeSocket(url, token);
        sockets.push(socket);
        return socket;
      },
    });
    chat.start();
    await settle();
    expect(chat.state).toMatchObject({ status: "reconnecting", reason: "cannot-open", attempt: 1 });
    await vi.advanceTimersByTimeAsync(500);
    expect(chat.state).toMatchObject({ status: "reconnecting", reason: "cannot-open", attempt: 2 });
    refuse = false;
    await vi.advanceTimersByTimeAsync(1000);
    sockets.at(-1)?.open();
    expect(chat.state.status).toBe("live");
  });

  it("retries now on request instead of waiting out the backoff", async () => {
    const { chat, sockets, last } = setup();
    chat.start();
    await settle();
    for (let i = 0; i < 5; i++) {
      last().refuse();
      const state = chat.state;
      if (state.status !== "reconnecting") throw new Error("not reconnecting");
      await vi.advanceTimersByTimeAsync(state.retryAt - Date.now());
    }
    last().refuse();
    expect(sockets).toHaveLength(6);
    chat.retryNow();
    await settle();
    expect(sockets).toHaveLength(7);
    chat.retryNow(); // an attempt is in flight: nothing to skip
    await settle();
    expect(sockets).toHaveLength(7);
  });

  it("re-checks the session on an explicit retry after refusals", async () => {
    const { chat, last, getToken } = setup();
    chat.start();
    await settle();
    last().refuse();
    await vi.advanceTimersByTimeAsync(500);
    last().refuse();
    chat.retryNow();
    await settle();
    expect(getToken).toHaveBeenLastCalledWith({ forceRefresh: true });
  });

  describe("when another tab signs in as someone else (tabs share the session)", () => {
    it("does not connect with the other user's token, and stops for good", async () => {
      const { chat, sockets, getToken, states } = setup({ userId: "u1" });
      getToken.mockImplementation(async () => tokenFor(1, 3600, "u2"));
      await expectStoppedAtStart({ chat, sockets, getToken, states }, "other-user");
    });

    it("does not reconnect as the other user after a drop", async () => {
      const { chat, sockets, getToken, last } = setup({ userId: "u1" });
      await startLive(chat, last);
      getToken.mockImplementation(async () => tokenFor(2, 3600, "u2"));
      last().drop();
      await vi.advanceTimersByTimeAsync(120_000);
      expect(chat.state).toEqual({ status: "signed-out", reason: "other-user" });
      expect(sockets).toHaveLength(1);
    });

    it("closes the socket instead of renewing with the other user's token", async () => {
      const { chat, sockets, getToken, last } = setup({ userId: "u1" });
      getToken.mockImplementation(async () => tokenFor(1, 600));
      await startLive(chat, last);
      getToken.mockImplementation(async () => tokenFor(2, 600, "u2"));
      await vi.advanceTimersByTimeAsync(540_000);
      expect(last().sent).toEqual([]); // no refresh with a token the server would refuse as another user's
      expect(last().closedWith).toBe(1000);
      expect(chat.state).toEqual({ status: "signed-out", reason: "other-user" });
      await vi.advanceTimersByTimeAsync(120_000);
      expect(sockets).toHaveLength(1);
    });

    it("goes on as usual with its own user's tokens", async () => {
      const { chat, last } = setup({ userId: "u1" });
      await startLive(chat, last);
      expect(chat.state.status).toBe("live");
    });
  });

  it("does not start a second attempt while a token is still being fetched", async () => {
    let release: (token: string) => void = () => {};
    const { chat, sockets, last, getToken } = setup();
    chat.start();
    await settle();
    last().refuse();
    getToken.mockImplementationOnce(() => new Promise((resolve) => (release = resolve)));
    await vi.advanceTimersByTimeAsync(500); // the retry begins and waits for its token
    chat.retryNow();
    chat.retryNow();
    release(tokenFor(7));
    await settle();
    expect(sockets).toHaveLength(2);
  });
});
