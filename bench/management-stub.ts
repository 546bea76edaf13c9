import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { closeServer } from "../sandbox/server-lifecycle.js";
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

export const DEFAULT_STUB_SETTINGS: StubSettings = { latencyMs: 20, concurrency: 200 };

/**
 * A stand-in for the `@connections` management API: `POST` and `DELETE /{stage}/@connections/{id}` answer 200/204
 * after `latencyMs`, at most `concurrency` at a time. Every connection id exists. Runs in a child process
 * (`management-stub` service) so that serving tens of thousands of calls does not take the measured process's CPU.
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

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = req.url ?? "";
    const known = path.startsWith(prefix) && (req.method === "POST" || req.method === "DELETE");
    // Read the body to the end so that the keep-alive socket can carry the next call.
    req.resume();
    req.once("end", () => {
      if (!known) {
        res.writeHead(403, { "Content-Type": "application/json", "x-amzn-ErrorType": "ForbiddenException" });
        res.end('{"message":"Forbidden"}');
        return;
      }
      admit(() => {
        setTimeout(() => {
          if (req.method === "POST") stats.posts++;
          else stats.deletes++;
          res.writeHead(req.method === "POST" ? 200 : 204, { "Content-Length": "0" });
          res.end();
          release();
        }, settings.latencyMs);
      });
    });
  });
  // Clients keep their sockets for the whole run; do not close them under a client's feet.
  server.keepAliveTimeout = 120_000;
  server.headersTimeout = 130_000;
  server.requestTimeout = 0;
  server.maxRequestsPerSocket = 0;

  return {
    server,
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

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** The `management-stub` child service. */
export async function serve(options: StubOptions): Promise<ServiceMethods> {
  const stub = createManagementStub(options);
  await new Promise<void>((resolve, reject) => {
    stub.server.once("error", reject);
    stub.server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = stub.server.address() as AddressInfo;
  return {
    info: async () => ({ endpoint: `http://127.0.0.1:${port}/${options.stage ?? "bench"}`, settings: stub.settings }),
    stats: async () => ({ ...stub.stats }),
    reset: async () => stub.reset(),
    configure: async (settings: Partial<StubSettings>) => stub.configure(settings),
    close: () => closeServer(stub.server),
  };
}
