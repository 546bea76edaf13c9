import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";
import { IpcCalls } from "../bench/ipc-calls.js";
import type { ChildRequest } from "./sandbox-child.js";
import {
  type SandboxEndpoint,
  type SandboxService,
  type SandboxStats,
  startSandboxService,
} from "./sandbox-service.js";

const CHILD = fileURLToPath(new URL("./sandbox-child.ts", import.meta.url));
/** tsx's ESM loader, resolved from here so the child starts whatever the working directory. */
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;

/** A sandbox service, with `endpoint` and `stats` fetched when asked (they cross a process boundary). */
export interface SandboxHandle {
  endpoint: SandboxEndpoint;
  flush(marker: string): Promise<number>;
  stats(): Promise<SandboxStats>;
  /** The first lines the sandbox process wrote to stderr; none in process. */
  stderr(): string[];
  close(): Promise<void>;
}

const KEPT_STDERR_LINES = 20;

/** Starts the sandbox in this process. */
export async function startInProcess(): Promise<SandboxHandle> {
  const service: SandboxService = await startSandboxService();
  return {
    endpoint: service.endpoint(),
    flush: (marker) => service.flush(marker),
    stats: async () => service.stats(),
    stderr: () => [],
    close: () => service.close(),
  };
}

/**
 * Starts the sandbox in a child Node process (with tsx's loader) and talks to it over IPC. The child is killed when
 * this process exits, and leaves by itself when this process goes away.
 */
export async function startChildProcess(options: { timeoutMs: number }): Promise<SandboxHandle> {
  // LOADTEST_CHILD_NODE_ARGS: extra Node flags for the sandbox process, e.g. "--cpu-prof" to see where its time goes.
  const extra = process.env.LOADTEST_CHILD_NODE_ARGS?.split(" ").filter(Boolean) ?? [];
  const child = spawn(process.execPath, [...extra, "--import", TSX_LOADER, CHILD], {
    stdio: ["ignore", "inherit", "pipe", "ipc"],
  });
  const stderr: string[] = [];
  let partial = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    const lines = (partial + chunk.toString()).split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) if (line.trim() && stderr.length < KEPT_STDERR_LINES) stderr.push(line);
  });
  const kill = () => child.kill("SIGKILL");
  process.once("exit", kill);
  const ipc = new IpcCalls(child, { label: "sandbox child" });
  const calls = { call: <T>(request: Request) => ipc.call<T>(request, options.timeoutMs) };
  child.once("exit", () => process.off("exit", kill));
  try {
    const endpoint = await calls.call<SandboxEndpoint>({ method: "endpoint" });
    return {
      endpoint,
      flush: (marker) => calls.call<number>({ method: "flush", marker }),
      stats: () => calls.call<SandboxStats>({ method: "stats" }),
      stderr: () => [...stderr],
      // No $disconnect storm for sockets nobody listens to any more: the child just goes (see sandbox-child.ts).
      close: async () => {
        const exited = new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) resolve();
          else child.once("exit", () => resolve());
        });
        child.disconnect();
        await exited;
      },
    };
  } catch (err) {
    kill();
    const said = stderr.length ? `\n${stderr.join("\n")}` : "";
    throw new Error(`${err instanceof Error ? err.message : String(err)}${said}`);
  }
}

type Request = ChildRequest extends infer R ? (R extends { id: number } ? Omit<R, "id"> : never) : never;
