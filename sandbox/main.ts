/**
 * `npm run dev`: the whole chat, offline, through the handlers Lambda runs. Settings come from the environment
 * (see `cli-options.ts`); every URL is printed at start; Ctrl-C closes everything.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ChatError } from "../core/errors.js";
import { sandboxOptionsFromEnv } from "./cli-options.js";
import type { Sandbox } from "./sandbox.js";

/** A second Ctrl-C this long after the first stops at once, whatever is still closing. */
const FORCE_AFTER_MS = 1000;
const CLOSE_DEADLINE_MS = 10_000;

async function main(): Promise<number> {
  const options = sandboxOptionsFromEnv(process.env);
  // Loaded after the settings are checked, so a mistake is reported without waiting for the AWS SDK and esbuild.
  const { startSandbox } = await import("./sandbox.js");
  const page = options.webRoot === undefined ? await buildPage() : undefined;
  let sandbox: Sandbox;
  try {
    sandbox = await startSandbox({ ...options, webRoot: options.webRoot ?? page?.dir });
  } catch (err) {
    await page?.remove();
    throw err;
  }
  printBanner(sandbox);

  return new Promise((resolve) => {
    let firstSignalAt: number | undefined;
    const stop = (signal: NodeJS.Signals) => {
      const now = Date.now();
      if (firstSignalAt !== undefined) {
        // The terminal sends Ctrl-C to npm, tsx and node at once: only a later, deliberate one forces the exit.
        if (now - firstSignalAt > FORCE_AFTER_MS) {
          console.error("Stopping at once.");
          process.exit(1);
        }
        return;
      }
      firstSignalAt = now;
      console.log(`\n${signal}: closing sockets, servers and DynamoDB...`);
      const deadline = setTimeout(() => {
        console.error(`Still closing after ${CLOSE_DEADLINE_MS / 1000} s; stopping anyway.`);
        process.exit(1);
      }, CLOSE_DEADLINE_MS).unref();
      sandbox
        .close()
        .then(() => page?.remove())
        .then(
          () => {
            clearTimeout(deadline);
            console.log("Stopped.");
            resolve(0);
          },
          (err: unknown) => {
            console.error("Shutdown failed:", err);
            resolve(1);
          },
        );
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
}

/** Builds the web page into a directory of its own for this run; a failed build leaves the placeholder page. */
async function buildPage(): Promise<{ dir: string; remove: () => Promise<void> } | undefined> {
  const dir = await mkdtemp(join(tmpdir(), "chat-sandbox-web-"));
  const remove = () => rm(dir, { recursive: true, force: true });
  try {
    const { buildWeb } = await import("../web/build.js");
    await buildWeb({ outdir: dir, minify: false, sourcemap: true });
    return { dir, remove };
  } catch (err) {
    console.warn(`The web page did not build, so a placeholder is served instead: ${String(err)}`);
    await remove();
    return undefined;
  }
}

function printBanner(sandbox: Sandbox): void {
  const { urls } = sandbox;
  const rows: [string, string][] = [
    ["Page", urls.page],
    ["Config", urls.config],
    ["WebSocket", urls.webSocket],
    ["Management API", `${urls.management}/@connections/{connectionId}`],
    ["JWKS", urls.jwks],
    ["DynamoDB", `${urls.dynamodb}  ${sandbox.dynamo.description}, table ${sandbox.dynamo.tableName}`],
  ];
  console.log("Chat sandbox is running.");
  for (const [label, value] of rows) console.log(`  ${`${label}:`.padEnd(16)} ${value}`);
  for (const line of sandbox.authDescription) console.log(`  ${line}`);
  console.log("Press Ctrl-C to stop.\n");
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    // Settings and start-up problems are the user's to fix: the message, not a stack trace.
    console.error(err instanceof ChatError ? `Error: ${err.message}` : err);
    process.exit(err instanceof ChatError ? 2 : 1);
  },
);
