import type { AuthorizerRunParams } from "./authorizer-runner.js";
import type { ColdstartOptions } from "./coldstart.js";
import type { DynamoKind } from "./dynamo-fixture.js";
import type { E2eOptions } from "./e2e.js";
import type { FanoutSectionOptions } from "./fanout.js";
import type { StubSettings } from "./management-stub.js";
import { Section } from "./report.js";
import type { WorkersSectionOptions } from "./workers.js";

/** Everything a bench run does, section by section. */
export interface BenchConfig {
  name: string;
  sections: readonly Section[];
  stub: StubSettings;
  dynamo: DynamoKind;
  fanout: FanoutSectionOptions;
  workers: WorkersSectionOptions;
  authorizer: AuthorizerRunParams;
  coldstart: ColdstartOptions;
  e2e: E2eOptions;
}

export const ALL_SECTIONS: readonly Section[] = [
  Section.Coldstart,
  Section.Authorizer,
  Section.Fanout,
  Section.Workers,
  Section.E2e,
];

/** The full run, whose table goes into docs/PERFORMANCE.md. */
export const FULL: BenchConfig = {
  name: "full",
  sections: ALL_SECTIONS,
  stub: { latencyMs: 20, concurrency: 200 },
  dynamo: "dynalite",
  fanout: {
    sizes: [1_000, 10_000, 100_000],
    sequentialSizes: [1_000, 10_000, 100_000],
    leanSizes: [1_000, 10_000, 100_000],
    sequentialMaxSeconds: 5,
    warmUpRecipients: 1_000,
    warmUpSeconds: 3,
    runTimeoutSeconds: 900,
  },
  workers: {
    recipients: 100_000,
    batchSize: 1_000,
    workerCounts: [1, 2, 4, 8],
    perWorkerConcurrency: 200,
    warmUpSends: 5_000,
    runTimeoutSeconds: 900,
  },
  authorizer: { rounds: 10, sliceMs: 500 },
  coldstart: { runs: 7 },
  e2e: { clients: 100, messages: 300 },
};

/**
 * `--quick`: every section, at sizes meant to finish in under a minute on two busy cores. The SDK client and the
 * AWS sample cost about a millisecond of CPU per send (docs/PERFORMANCE.md), so quick's rooms are 1,000 and 3,000
 * (no bare-http explanation), and the worker section's broadcast is 4,000 recipients in 8 batches of 500 (so that
 * every W splits them evenly) for W = 1, 2, 4 rather than 100,000 for W up to 8: a worker's start-up is most of a
 * small run. Each bundle is imported once: what cold start is judged by (bytes, what a bundle loads) does not vary.
 */
export const QUICK: BenchConfig = {
  ...FULL,
  name: "quick",
  fanout: {
    sizes: [1_000, 3_000],
    sequentialSizes: [1_000],
    leanSizes: [],
    sequentialMaxSeconds: 1,
    warmUpRecipients: 1_000,
    warmUpSeconds: 0.75,
    runTimeoutSeconds: 120,
  },
  workers: {
    ...FULL.workers,
    workerCounts: [1, 2, 4],
    recipients: 4_000,
    batchSize: 500,
    warmUpSends: 2_000,
    runTimeoutSeconds: 120,
  },
  authorizer: { rounds: 3, sliceMs: 200 },
  coldstart: { runs: 1 },
  e2e: { clients: 100, messages: 20 },
};

export interface CliOptions {
  config: BenchConfig;
  /** Where to write the rows as JSON. */
  jsonFile?: string;
  /** Where to write the table as Markdown (for docs/PERFORMANCE.md). */
  markdownFile?: string;
  help: boolean;
}

export const USAGE = `Usage: npm run bench -- [--quick] [--json FILE] [--markdown FILE] [--only SECTION,...]
                        [--dynamo dynalite|dynamodb-local] [--latency-ms MS] [--concurrency S]

  --quick          every section at small sizes (about a minute on two cores)
  --json FILE      also write the rows as a JSON array to FILE
  --markdown FILE  also write the table as Markdown to FILE
  --only LIST      run only these sections: ${ALL_SECTIONS.join(", ")}
  --dynamo KIND    local DynamoDB for the fan-out table (default dynalite)
  --latency-ms MS  management API stub latency per call (default 20)
  --concurrency S  calls the stub serves at once (default 200)`;

/** Parses the command line; throws with a message that names the bad argument. */
export function parseCliOptions(args: readonly string[]): CliOptions {
  let config: BenchConfig = FULL;
  let jsonFile: string | undefined;
  let markdownFile: string | undefined;
  let only: Section[] | undefined;
  const overrides: { dynamo?: DynamoKind; latencyMs?: number; concurrency?: number } = {};
  let help = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    const value = () => {
      const next = args[++i];
      if (next === undefined || next.startsWith("--")) throw new Error(`${arg} needs a value`);
      return next;
    };
    switch (arg) {
      case "--quick":
        config = QUICK;
        break;
      case "--json":
        jsonFile = value();
        break;
      case "--markdown":
        markdownFile = value();
        break;
      case "--only":
        only = value()
          .split(",")
          .map((name) => {
            if (!(ALL_SECTIONS as readonly string[]).includes(name)) throw new Error(`--only: no section "${name}"`);
            return name as Section;
          });
        break;
      case "--dynamo": {
        const kind = value();
        if (kind !== "dynalite" && kind !== "dynamodb-local")
          throw new Error(`--dynamo: "${kind}" is not dynalite or dynamodb-local`);
        overrides.dynamo = kind;
        break;
      }
      case "--latency-ms":
        overrides.latencyMs = positive(arg, value());
        break;
      case "--concurrency":
        overrides.concurrency = positive(arg, value());
        break;
      case "--help":
      case "-h":
        help = true;
        break;
      default:
        throw new Error(`unknown argument ${arg}`);
    }
  }
  return {
    config: {
      ...config,
      sections: only ?? config.sections,
      dynamo: overrides.dynamo ?? config.dynamo,
      stub: {
        latencyMs: overrides.latencyMs ?? config.stub.latencyMs,
        concurrency: overrides.concurrency ?? config.stub.concurrency,
      },
    },
    jsonFile,
    markdownFile,
    help,
  };
}

function positive(name: string, text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name}: "${text}" is not a positive number`);
  return value;
}
