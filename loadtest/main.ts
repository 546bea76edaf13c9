/**
 * `npm run loadtest`: N signed-in clients on the local sandbox (loopback only), many senders, and a check that every
 * client received every message exactly once, each sender's messages in the order sent. See loadtest/README.md.
 */
import { execFileSync } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { cpus, loadavg } from "node:os";
import { OptionsError, parseOptions, USAGE } from "./options.js";
import { formatReport } from "./report.js";
import { runLoadTest } from "./run.js";

/** Descriptors one client costs: its socket here, the gateway's in the sandbox (another process by default). */
const FDS_PER_CLIENT = 2;
/** DynamoDB, the management API's keep-alive sockets, files. */
const FDS_SPARE = 1000;

async function main(): Promise<number> {
  let parsed: ReturnType<typeof parseOptions>;
  try {
    parsed = parseOptions(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof OptionsError)) throw err;
    console.error(`${err.message}\n\n${USAGE}`);
    return 2;
  }
  if (parsed.help) {
    console.log(USAGE);
    return 0;
  }
  const { options } = parsed;
  const load = () =>
    loadavg()
      .map((value) => value.toFixed(1))
      .join(" ");
  const fdLimit = openFileLimit();
  console.log(
    `loadtest: ${options.clients} clients, ${options.senders} senders × ${options.messages} messages; ` +
      `Node ${process.version}, ${cpus().length} cores, load ${load()}, open files limit ${fdLimit ?? "unknown"}`,
  );
  const needed = options.clients * (options.inProcess ? FDS_PER_CLIENT : 1) + FDS_SPARE;
  if (fdLimit !== undefined && fdLimit < needed) {
    console.error(`the open files limit (ulimit -n) is ${fdLimit}; ${options.clients} clients need about ${needed}`);
    return 2;
  }
  const started = performance.now();
  const result = await runLoadTest(options, (line) => {
    console.log(`[${((performance.now() - started) / 1000).toFixed(1).padStart(6)} s] ${line}`);
  });
  console.log(`\n${formatReport(result)}\nload average at the end: ${load()}`);
  if (options.jsonFile) {
    await writeFile(options.jsonFile, `${JSON.stringify(result, null, 2)}\n`);
    console.log(`summary written to ${options.jsonFile}`);
  }
  return result.passed ? 0 : 1;
}

/** `ulimit -n` of this process (children inherit it), or undefined where the shell cannot say. */
function openFileLimit(): number | undefined {
  try {
    const value = Number(execFileSync("sh", ["-c", "ulimit -n"], { encoding: "utf8" }).trim());
    return Number.isFinite(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
