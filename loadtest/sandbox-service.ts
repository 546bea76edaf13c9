import { Broadcaster, onePage } from "../core/broadcast.js";
import { EnvVar } from "../core/env.js";
import { Logger } from "../core/logger.js";
import { createManagementConnections } from "../core/management-client.js";
import { devSignInUrl } from "../sandbox/dev-auth.js";
import { type Sandbox, startSandbox } from "../sandbox/sandbox.js";

/** What the load test needs of a sandbox, wherever it runs. */
export interface SandboxEndpoint {
  webSocketUrl: string;
  signInUrl: string;
}

export interface SandboxStats {
  /** Connections open as the gateway sees them. */
  openConnections: number;
  /** Sandbox log lines at warn or above: none are expected. */
  warnings: number;
  firstWarnings: string[];
}

/** The calls a load test makes on its sandbox; the same in process and over IPC. */
export interface SandboxService {
  endpoint(): SandboxEndpoint;
  /**
   * Waits until no handler runs and no fan-out batch waits, then posts `marker` to every open connection through the
   * management API. A socket delivers in order, so a client holds everything sent to it before once it has the
   * marker. Resolves with the number of connections posted to.
   */
  flush(marker: string): Promise<number>;
  stats(): SandboxStats;
  close(): Promise<void>;
}

/** Per-connection limits high enough that the load test measures delivery, not the rate limiter. */
const UNLIMITED = "1000000";
const KEPT_WARNINGS = 5;

/** Starts a quiet sandbox on free loopback ports with the rate limit raised, as the load test's system under test. */
export async function startSandboxService(): Promise<SandboxService> {
  let warnings = 0;
  const firstWarnings: string[] = [];
  const sandbox: Sandbox = await startSandbox({
    port: 0,
    host: "127.0.0.1",
    logLevel: "warn",
    log: (line) => {
      warnings++;
      if (firstWarnings.length < KEPT_WARNINGS) firstWarnings.push(line);
    },
    handlerEnv: { [EnvVar.MessageBurst]: UNLIMITED, [EnvVar.MessagesPerSecond]: UNLIMITED },
  });
  const broadcaster = new Broadcaster(
    createManagementConnections({ endpoint: sandbox.urls.management }),
    new Logger({ sink: () => {} }),
  );
  return {
    endpoint: () => ({
      webSocketUrl: sandbox.urls.webSocket,
      signInUrl: devSignInUrl(sandbox.urls.page),
    }),
    async flush(marker) {
      await sandbox.hooks.idle();
      const open = sandbox.hooks.connections();
      // Through the chat's own broadcaster and client, so a marker that does not arrive says so here.
      const result = await broadcaster.send({
        recipients: onePage(open),
        data: JSON.stringify({ type: "marker", marker }),
        onGone: async () => {},
      });
      if (result.delivered !== open.length) {
        throw new Error(`flush marker reached ${result.delivered} of ${open.length} connections`);
      }
      return open.length;
    },
    stats: () => ({ openConnections: sandbox.hooks.connections().length, warnings, firstWarnings }),
    close: () => sandbox.close(),
  };
}

/** Runs `work` on every item, at most `limit` at once. */
export async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  work: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    for (let index = next++; index < items.length; index = next++) await work(items[index] as T, index);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
