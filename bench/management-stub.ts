import { createServer, type Socket } from "node:net";
import { listenOn } from "../sandbox/server-lifecycle.js";
import type { ServiceMethods } from "./child-protocol.js";

/** How the stub behaves: a remote service with a fixed latency and a cap on calls served at once. */
export interface StubSettings {
  /** Time each call takes once it is being served. @default 20 */
  latencyMs: number;
  /**
   * Calls served at once. Excess calls wait in a FIFO queue (they are not refused with 429), so the stub's best
   * throughput is `concurrency / latency` whatever the client does, and `N × latency / concurrency` is a hard floor.
   * @default 200
   */
  concurrency: number;
}

export interface StubOptions extends Partial<StubSettings> {
  /** The stage in the path, as in `https://{api}.execute-api.{region}.amazonaws.com/{stage}`. @default "bench" */
  stage?: string;
}

export interface StubStats {
  /** `PostToConnection` calls answered. */
  posts: number;
  /** `DeleteConnection` calls answered. */
  deletes: number;
  /** Most calls being served at once. */
  maxActive: number;
  /** Most calls waiting at once. */
  maxQueued: number;
  /**
   * Calls being served, averaged over time from the first call to the last answer since the last reset. Near
   * `concurrency`, the stub was the bottleneck; well below it, the client did not keep it busy.
   */
  meanActive: number;
}

const DEFAULT_STUB_SETTINGS: StubSettings = { latencyMs: 20, concurrency: 200 };

/**
 * A stand-in for the `@connections` management API: `POST` and `DELETE /{stage}/@connections/{id}` answer 200/204
 * after `latencyMs`, at most `concurrency` at a time. Every connection id exists. Runs in a child process
 * (`management-stub` service) so that serving tens of thousands of calls does not take the measured process's CPU.
 *
 * It speaks just enough HTTP/1.1 over plain TCP for the clients it serves (a request with a `Content-Length` body at a
 * time per kept-alive connection), because it stands for a service with CPUs of its own: `node:http` would cost it
 * about 0.08 ms of the two cores per call, taken from the code being measured.
 */
export function createManagementStub(options: StubOptions = {}) {
  const settings: StubSettings = { ...DEFAULT_STUB_SETTINGS, ...withoutUndefined(options) };
  const prefix = `/${options.stage ?? "bench"}/@connections/`;
  const stats: StubStats = { posts: 0, deletes: 0, maxActive: 0, maxQueued: 0, meanActive: 0 };
  const waiting: (() => void)[] = [];
  let head = 0;
  let active = 0;
  // Time-weighted count of calls being served, for `meanActive`.
  let busyArea = 0;
  let firstAt: number | undefined;
  let changedAt = 0;
  const account = () => {
    const now = performance.now();
    firstAt ??= now;
    busyArea += active * (now - changedAt);
    changedAt = now;
    stats.meanActive = now > firstAt ? busyArea / (now - firstAt) : 0;
  };

  const admit = (serve: () => void) => {
    account();
    if (active < settings.concurrency) {
      active++;
      stats.maxActive = Math.max(stats.maxActive, active);
      serve();
    } else {
      waiting.push(serve);
      stats.maxQueued = Math.max(stats.maxQueued, waiting.length - head);
    }
  };
  const release = () => {
    account();
    active--;
    if (head < waiting.length) {
      const next = waiting[head];
      waiting[head++] = noop;
      // Compact the queue now and then instead of shifting on every call.
      if (head > 4096 && head * 2 > waiting.length) {
        waiting.splice(0, head);
        head = 0;
      }
      active++;
      next?.();
    }
  };

  const serve = (method: string, path: string, reply: (answer: string) => void) => {
    if (!path.startsWith(prefix) || (method !== "POST" && method !== "DELETE")) {
      reply(FORBIDDEN);
      return;
    }
    admit(() => {
      setTimeout(() => {
        if (method === "POST") stats.posts++;
        else stats.deletes++;
        reply(method === "POST" ? OK : NO_CONTENT);
        release();
      }, settings.latencyMs);
    });
  };
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {}); // a client that goes away mid-call
    let buffered: Buffer = Buffer.alloc(0);
    let serving = false;
    // One call at a time per connection, as clients without pipelining send them.
    const next = () => {
      const end = buffered.indexOf(HEAD_END);
      if (serving || end < 0) return;
      const head = buffered.toString("latin1", 0, end);
      if (/\r\ntransfer-encoding:/i.test(head)) {
        socket.end(LENGTH_REQUIRED);
        return;
      }
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
      if (buffered.length < end + HEAD_END.length + length) return;
      buffered = buffered.subarray(end + HEAD_END.length + length);
      const [method = "", path = ""] = head.slice(0, head.indexOf("\r\n")).split(" ");
      serving = true;
      serve(method, path, (answer) => {
        serving = false;
        if (socket.destroyed) return;
        socket.write(answer);
        next();
      });
    };
    socket.on("data", (chunk: Buffer) => {
      buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk;
      next();
    });
  });

  return {
    /** Listens on a free port of `host`; resolves to the port. */
    listen: (host = "127.0.0.1"): Promise<number> => listenOn(server, 0, host),
    close(): Promise<void> {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
    settings,
    stats,
    configure(next: Partial<StubSettings>) {
      Object.assign(settings, withoutUndefined(next));
    },
    reset() {
      Object.assign(stats, { posts: 0, deletes: 0, maxActive: active, maxQueued: 0, meanActive: 0 });
      busyArea = 0;
      firstAt = undefined;
    },
  };
}

const noop = () => {};
const HEAD_END = Buffer.from("\r\n\r\n");
const OK = "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
const NO_CONTENT = "HTTP/1.1 204 No Content\r\n\r\n";
const FORBIDDEN =
  'HTTP/1.1 403 Forbidden\r\ncontent-type: application/json\r\nx-amzn-ErrorType: ForbiddenException\r\ncontent-length: 23\r\n\r\n{"message":"Forbidden"}';
const LENGTH_REQUIRED = "HTTP/1.1 411 Length Required\r\nconnection: close\r\ncontent-length: 0\r\n\r\n";

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** The `management-stub` child service. */
export async function serve(options: StubOptions): Promise<ServiceMethods> {
  const stub = createManagementStub(options);
  const port = await stub.listen();
  return {
    info: async () => ({ endpoint: `http://127.0.0.1:${port}/${options.stage ?? "bench"}`, settings: stub.settings }),
    stats: async () => ({ ...stub.stats }),
    reset: async () => stub.reset(),
    configure: async (settings: Partial<StubSettings>) => stub.configure(settings),
    close: () => stub.close(),
  };
}
