import WebSocket from "ws";
import { LOBBY, TOKEN_QUERY_PARAMETER } from "../core/protocol.js";
import { devSignIn } from "../sandbox/dev-auth.js";

/** Where the e2e clients connect. */
export interface ChatEndpoint {
  webSocketUrl: string;
  /** The sandbox's development sign-in; absent for the relay, which asks for no token. */
  signInUrl?: string;
}

export interface LatencySample {
  /** Send-to-receipt time of every (message, recipient) pair, ms. */
  latenciesMs: number[];
  messages: number;
  seconds: number;
}

const MARK = "bench:";

/**
 * `clients` signed-in sockets (all in the lobby, where every connection starts) that send `messages` chat messages
 * there, round robin, one at a time: each is sent once the previous one has reached every client (a closed loop,
 * so the figures are latency, not queueing).
 */
export async function measureLatency(
  endpoint: ChatEndpoint,
  options: { clients: number; messages: number; warmUpMessages: number; messageTimeoutMs: number },
): Promise<LatencySample> {
  const sockets: WebSocket[] = [];
  try {
    const tokens = await Promise.all(
      Array.from({ length: options.clients }, async (_, i) =>
        endpoint.signInUrl ? (await devSignIn(endpoint.signInUrl, `bench-${i}`)).accessToken : undefined,
      ),
    );
    // A few at a time: a burst of connects would measure the authorizer's queue, not the chat.
    for (let i = 0; i < tokens.length; i += 10) {
      sockets.push(...(await Promise.all(tokens.slice(i, i + 10).map((token) => open(endpoint.webSocketUrl, token)))));
    }

    const sentAt = new Map<number, number>();
    const received = new Map<number, number>();
    const latenciesMs: number[] = [];
    let waiting: { id: number; resolve: () => void } | undefined;
    let failure: Error | undefined;
    for (const socket of sockets) {
      socket.on("message", (data) => {
        const now = performance.now();
        const frame = JSON.parse(data.toString()) as { type?: string; text?: string; code?: string };
        if (frame.type === "error") failure ??= new Error(`a client got an error frame: ${frame.code}`);
        if (frame.type !== "message" || !frame.text?.startsWith(MARK)) return;
        const id = Number(frame.text.slice(MARK.length));
        const start = sentAt.get(id);
        if (start === undefined) return;
        if (id >= 0) latenciesMs.push(now - start);
        const count = (received.get(id) ?? 0) + 1;
        received.set(id, count);
        if (count === sockets.length && waiting?.id === id) waiting.resolve();
      });
    }

    const send = async (id: number) => {
      const done = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(
              new Error(
                `message ${id} reached ${received.get(id) ?? 0} of ${sockets.length} clients in ${options.messageTimeoutMs} ms`,
              ),
            ),
          options.messageTimeoutMs,
        );
        waiting = {
          id,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        };
      });
      sentAt.set(id, performance.now());
      const sender = sockets[Math.abs(id) % sockets.length] as WebSocket;
      sender.send(JSON.stringify({ action: "sendmessage", room: LOBBY, text: `${MARK}${id}` }));
      await done;
      if (failure) throw failure;
    };
    // Warm-up messages have negative ids and are not counted.
    for (let i = 1; i <= options.warmUpMessages; i++) await send(-i);
    const begin = performance.now();
    for (let id = 0; id < options.messages; id++) await send(id);
    return { latenciesMs, messages: options.messages, seconds: (performance.now() - begin) / 1000 };
  } finally {
    for (const socket of sockets) socket.terminate();
  }
}

function open(url: string, token: string | undefined): Promise<WebSocket> {
  const target = token ? `${url}?${TOKEN_QUERY_PARAMETER}=${encodeURIComponent(token)}` : url;
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(target, { perMessageDeflate: false, handshakeTimeout: 10_000 });
    socket.once("open", () => resolve(socket));
    socket.once("error", reject);
    socket.once("unexpected-response", (_req, res) => reject(new Error(`upgrade answered ${res.statusCode}`)));
  });
}
