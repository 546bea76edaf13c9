import WebSocket from "ws";
import { TOKEN_QUERY_PARAMETER } from "../core/protocol.js";
import { devSignIn } from "../sandbox/dev-auth.js";

/**
 * One load test client: a signed-in `ws` socket that hands every frame to `onFrame` and can wait for a flush marker.
 * Deliberately lean (no frame history): a thousand of them receive a million frames.
 */
export class LoadClient {
  private markerWaiter?: { marker: string; resolve: () => void };
  /** Set when the socket closed, with the code. */
  closedWith?: number;

  private constructor(
    readonly index: number,
    readonly userId: string,
    private readonly socket: WebSocket,
    onFrame: (client: LoadClient, frame: unknown, at: number) => void,
  ) {
    socket.on("message", (data, isBinary) => {
      const at = performance.now();
      const frame = isBinary ? undefined : parse(data.toString());
      const marker = (frame as { marker?: unknown } | undefined)?.marker;
      if (marker !== undefined) {
        if (marker === this.markerWaiter?.marker) this.markerWaiter.resolve();
        return;
      }
      onFrame(this, frame, at);
    });
    socket.on("close", (code) => {
      this.closedWith = code;
    });
  }

  /** Signs in as `name` at the development endpoint and opens a socket with the token in the query string. */
  static async connect(
    index: number,
    endpoint: { signInUrl: string; webSocketUrl: string },
    onFrame: (client: LoadClient, frame: unknown, at: number) => void,
  ): Promise<LoadClient> {
    const { accessToken, user } = await devSignIn(endpoint.signInUrl, `load-${index}`);
    const url = `${endpoint.webSocketUrl}?${TOKEN_QUERY_PARAMETER}=${encodeURIComponent(accessToken)}`;
    const socket = new WebSocket(url, { perMessageDeflate: false, headers: { "User-Agent": "loadtest" } });
    await new Promise<void>((resolve, reject) => {
      socket.once("open", () => resolve());
      socket.once("unexpected-response", (_req, res) =>
        reject(new Error(`handshake ${index}: HTTP ${res.statusCode}`)),
      );
      socket.once("error", reject);
    });
    socket.on("error", () => {}); // a late error surfaces as the close code
    return new LoadClient(index, user.userId, socket, onFrame);
  }

  get isOpen(): boolean {
    return this.socket.readyState === WebSocket.OPEN;
  }

  sendMessage(text: string): void {
    this.socket.send(JSON.stringify({ action: "sendmessage", text }));
  }

  /** Resolves when `marker` arrives (the sandbox posts it after everything else it had to send). */
  waitForMarker(marker: string): Promise<void> {
    return new Promise((resolve) => {
      this.markerWaiter = { marker, resolve };
    });
  }

  /** Cuts the socket: the sandbox is going away with it, so no close handshake is waited for. */
  terminate(): void {
    this.socket.terminate();
  }
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
