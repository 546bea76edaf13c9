/**
 * `npm run bench`: the five performance sections side by side, as a table (and `--json FILE` rows).
 * See docs/PERFORMANCE.md for the method and the latest full run.
 */
import { writeFile } from "node:fs/promises";
import { cpus, loadavg } from "node:os";
import { runExitSteps } from "./cleanup.js";
import { parseCliOptions, USAGE } from "./config.js";
import { formatMarkdown, formatTable, writeJson } from "./report.js";
import { runBench } from "./run.js";

async function main(): Promise<number> {
  let options: ReturnType<typeof parseCliOptions>;
  try {
    options = parseCliOptions(process.argv.slice(2));
  } catch (err) {
    console.error(`${err instanceof Error ? err.message : String(err)}\n\n${USAGE}`);
    return 2;
  }
  if (options.help) {
    console.log(USAGE);
    return 0;
  }
  const { config } = options;
  const started = performance.now();
  const elapsed = () => `${((performance.now() - started) / 1000).toFixed(1).padStart(6)} s`;
  const load = () =>
    loadavg()
      .map((value) => value.toFixed(1))
      .join(" ");
  console.error(
    `bench (${config.name}): ${config.sections.join(", ")}; Node ${process.version}, ${cpus().length} cores, load ${load()}`,
  );
  const { rows, failures } = await runBench(config, (line) => console.error(`[${elapsed()}] ${line}`));
  console.log(formatTable(rows));
  console.log(
    `\n${config.name} run: ${elapsed().trim()}; stub ${config.stub.latencyMs} ms × ${config.stub.concurrency}; ` +
      `DynamoDB: ${config.dynamo}; load average at the end ${load()}`,
  );
  if (options.jsonFile) {
    await writeJson(options.jsonFile, rows);
    console.log(`rows written to ${options.jsonFile}`);
  }
  if (options.markdownFile) {
    await writeFile(options.markdownFile, `${formatMarkdown(rows)}\n`);
    console.log(`table written to ${options.markdownFile}`);
  }
  for (const failure of failures) console.error(`FAILED ${failure.section}: ${failure.error}`);
  const missed = rows.filter((row) => row.targetMet === false);
  if (missed.length)
    console.log(`targets missed: ${missed.map((row) => `${row.section}/${row.variant}/${row.case}`).join(", ")}`);
  return failures.length ? 1 : 0;
}

main().then(
  (code) => {
    runExitSteps();
    process.exit(code);
  },
  (err: unknown) => {
    console.error(err);
    runExitSteps();
    process.exit(1);
  },
);
