import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { ChildRequest, ServiceName } from "./child-protocol.js";
import { onExit } from "./cleanup.js";
import { IpcCalls } from "./ipc-calls.js";

/** A bench service running in a process of its own, called over IPC. */
export interface BenchChild {
  readonly pid: number | undefined;
  /** Calls one of the service's methods; rejects after `timeoutMs` and kills the child then. */
  call<T>(method: string, params: unknown, timeoutMs: number): Promise<T>;
  /** Asks the child to exit (it closes what its service holds first); kills it after 5 s. Safe to call twice. */
  close(): Promise<void>;
}

const MAIN = fileURLToPath(new URL("./child-main.ts", import.meta.url));
/** tsx's loader, resolved from here so that children start whatever the working directory. */
const TSX = import.meta.resolve("tsx");
const CLOSE_GRACE_MS = 5000;
/** How long a service may take to start. */
const START_TIMEOUT_MS = 60_000;

/**
 * Starts `service` (see `child-main.ts`) in a fresh Node process, so what it measures (time, peak RSS) is its own
 * and the bench process's event loop does not share its CPU. The child is killed when this process exits.
 * `--expose-gc` lets a child force one collection before it measures memory (see `memory.ts`).
 */
export async function startChild(service: ServiceName, options: unknown): Promise<BenchChild> {
  const child = spawn(process.execPath, ["--expose-gc", "--import", TSX, MAIN], {
    stdio: ["ignore", "ignore", "pipe", "ipc"],
    env: { ...process.env, BENCH_SERVICE: service },
  });
  const unregister = onExit(() => child.kill("SIGKILL"));
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.once("exit", () => unregister());
  const calls = new IpcCalls(child, {
    label: `bench service ${service}`,
    exitError: (code, signal) => new Error(`bench service ${service} exited (${signal ?? code}):\n${stderr.trim()}`),
  });
  const kill = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  };
  const call = <T>(method: string, params: unknown, timeoutMs: number): Promise<T> =>
    calls.call<T>({ method, params } satisfies Omit<ChildRequest, "id">, timeoutMs, kill);

  let closing: Promise<void> | undefined;
  const handle: BenchChild = {
    pid: child.pid,
    call,
    close() {
      closing ??= (async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        if (child.connected) child.disconnect();
        const force = setTimeout(kill, CLOSE_GRACE_MS);
        await exited;
        clearTimeout(force);
      })();
      return closing;
    },
  };
  try {
    await call("start", options, START_TIMEOUT_MS);
  } catch (err) {
    await handle.close();
    throw err;
  }
  return handle;
}

/** Starts a child, runs `use` with it and always closes it. */
export async function withChild<T>(
  service: ServiceName,
  options: unknown,
  use: (child: BenchChild) => Promise<T>,
): Promise<T> {
  const child = await startChild(service, options);
  try {
    return await use(child);
  } finally {
    await child.close();
  }
}
