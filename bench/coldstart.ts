import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, statSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build, type Metafile } from "esbuild";
import { EnvVar } from "../core/env.js";
import { ESM_REQUIRE_SHIM } from "../lib/bundling.js";
import { onExit } from "./cleanup.js";
import { type BenchRow, Section } from "./report.js";
import { median, round } from "./stats.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/**
 * `lib/chat-function.ts`'s bundling, as `NodejsFunction` turns it into esbuild options: ESM for nodejs24.x, the
 * `require` shim banner, module-first main fields, minified, external source maps without sources, and `@aws-sdk/*`
 * external (the Lambda runtime has it). Keep in step with that file; the banner is shared (`lib/bundling.ts`).
 */
const LAMBDA_TARGET = "node24";

/** Environment the handlers read at module scope (they build their clients there), named through `EnvVar`. */
const HANDLER_ENV: Record<string, string> = {
  AWS_REGION: "us-east-1",
  [EnvVar.TableName]: "chat-connections",
  [EnvVar.RoomsTableName]: "chat-rooms",
  [EnvVar.CallbackUrl]: "https://abc123.execute-api.us-east-1.amazonaws.com/prod",
  [EnvVar.JwksUri]: "https://api.example.com/auth/jwt/jwks.json",
  [EnvVar.Issuer]: "https://api.example.com/auth",
  [EnvVar.FanoutQueueUrl]: "https://sqs.us-east-1.amazonaws.com/000000000000/chat-fanout",
  [EnvVar.LogLevel]: "info",
  // As the stack sets it: Node reads each module's source map when it loads it.
  NODE_OPTIONS: "--enable-source-maps",
};

/** The authorizer bundle's budget: 25 KiB. */
export const AUTHORIZER_MAX_BYTES = 25 * 1024;

/**
 * Packages a handler must not carry or import. Only the SuperTokens backend (`auth-api`) has any use for
 * supertokens-node; the authorizer verifies tokens and touches no table.
 */
const FORBIDDEN: Record<string, readonly string[]> = {
  "auth-api": [],
  authorizer: ["supertokens-node", "@aws-sdk/client-dynamodb", "@aws-sdk/lib-dynamodb"],
};
const FORBIDDEN_BY_DEFAULT = ["supertokens-node"];

export const BundleVariant = {
  /** As the stack bundles it. */
  Product: "product",
  /** The same without minification and without tree shaking. */
  Unminified: "unminified",
} as const;
export type BundleVariant = (typeof BundleVariant)[keyof typeof BundleVariant];

export interface ColdstartOptions {
  /** Fresh processes per bundle; the median is reported. */
  runs: number;
}

interface Bundle {
  handler: string;
  variant: BundleVariant;
  file: string;
  bytes: number;
  mapBytes: number;
  /** Packages the bundle contains or imports, by name. */
  packages: Set<string>;
  importMs: number[];
  processMs: number[];
}

/**
 * Section 4: every `lambdas/*.ts` bundled as the stack does and without minification or tree shaking; bytes, the
 * packages each bundle carries or imports (from esbuild's metafile), and the median time to import it in a fresh
 * Node process. `@aws-sdk/*` stays external and is resolved from this repository's node_modules, as the Lambda
 * runtime resolves it from its own. ratio = import time ÷ the unminified bundle's.
 */
export async function coldstartSection(
  options: ColdstartOptions,
  progress: (line: string) => void,
): Promise<BenchRow[]> {
  const dir = mkdtempSync(join(tmpdir(), "chat-bench-coldstart-"));
  const removeDir = () => rmSync(dir, { recursive: true, force: true });
  const unregister = onExit(removeDir);
  try {
    // Bare `@aws-sdk/*` imports resolve through node_modules next to the bundles.
    symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"), "dir");
    const handlers = readdirSync(join(ROOT, "lambdas"))
      .filter((file) => file.endsWith(".ts"))
      .map((file) => basename(file, ".ts"))
      .sort();
    progress(`coldstart: bundling ${handlers.length} handlers twice`);
    const bundles: Bundle[] = [];
    for (const handler of handlers) {
      for (const variant of Object.values(BundleVariant)) bundles.push(await bundle(handler, variant, dir));
    }
    progress(`coldstart: ${options.runs} imports of each bundle in fresh processes`);
    for (let run = 0; run < options.runs; run++) {
      for (const item of bundles) {
        const { importMs, processMs } = await timeImport(item.file);
        item.importMs.push(importMs);
        item.processMs.push(processMs);
      }
    }
    return rowsOf(bundles);
  } finally {
    removeDir();
    unregister();
  }
}

async function bundle(handler: string, variant: BundleVariant, dir: string): Promise<Bundle> {
  const outfile = join(dir, variant, handler, "index.mjs");
  const product = variant === BundleVariant.Product;
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: [join(ROOT, "lambdas", `${handler}.ts`)],
    outfile,
    bundle: true,
    platform: "node",
    target: LAMBDA_TARGET,
    format: "esm",
    banner: { js: ESM_REQUIRE_SHIM },
    mainFields: ["module", "main"],
    minify: product,
    treeShaking: product,
    sourcemap: true,
    sourcesContent: false,
    external: ["@aws-sdk/*"],
    metafile: true,
    logLevel: "error",
  });
  return {
    handler,
    variant,
    file: outfile,
    bytes: statSync(outfile).size,
    mapBytes: statSync(`${outfile}.map`).size,
    packages: packagesOf(result.metafile),
    importMs: [],
    processMs: [],
  };
}

/** Package names among the bundle's inputs and its external imports. */
function packagesOf(metafile: Metafile): Set<string> {
  const names = new Set<string>();
  for (const input of Object.keys(metafile.inputs)) {
    const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input);
    if (match?.[1]) names.add(match[1]);
  }
  for (const output of Object.values(metafile.outputs)) {
    for (const imported of output.imports) {
      if (imported.external && !imported.path.startsWith("node:")) {
        names.add(
          imported.path
            .split("/")
            .slice(0, imported.path.startsWith("@") ? 2 : 1)
            .join("/"),
        );
      }
    }
  }
  return names;
}

/** One fresh `node` that imports the bundle: the import's own time, and the whole process's. */
function timeImport(file: string): Promise<{ importMs: number; processMs: number }> {
  const script =
    "const t = performance.now(); await import(process.argv[1]); process.stdout.write(String(performance.now() - t));";
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, ["--input-type=module", "-e", script, pathToFileURL(file).href], {
      env: { PATH: process.env.PATH, ...HANDLER_ENV },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const unregister = onExit(() => child.kill("SIGKILL"));
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    let out = "";
    let err = "";
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      err = (err + chunk.toString()).slice(-2000);
    });
    child.once("error", reject);
    child.once("exit", (code) => {
      clearTimeout(timer);
      unregister();
      const importMs = Number(out);
      if (code !== 0 || !Number.isFinite(importMs))
        reject(new Error(`importing ${file} failed (${code}): ${err.trim()}`));
      else resolve({ importMs, processMs: performance.now() - started });
    });
  });
}

function rowsOf(bundles: Bundle[]): BenchRow[] {
  const rows: BenchRow[] = [];
  for (const item of bundles) {
    const baseline = bundles.find(
      (other) => other.handler === item.handler && other.variant === BundleVariant.Unminified,
    );
    const importMs = median(item.importMs);
    const sdk = [...item.packages].filter((name) => name.startsWith("@aws-sdk/")).map((name) => name.slice(9));
    const row: BenchRow = {
      section: Section.Coldstart,
      variant: item.variant,
      case: item.handler,
      bytes: item.bytes,
      mapBytes: item.mapBytes,
      importMs: round(importMs, 1),
      processMs: round(median(item.processMs), 1),
      awsSdk: sdk.length ? sdk.join(",") : "none",
      ratio: round(importMs / median(baseline?.importMs ?? [importMs])),
    };
    if (item.variant === BundleVariant.Product) {
      const forbidden = FORBIDDEN[item.handler] ?? FORBIDDEN_BY_DEFAULT;
      const found = forbidden.filter((name) => item.packages.has(name));
      const sizeLimit = item.handler === "authorizer" ? AUTHORIZER_MAX_BYTES : undefined;
      row.forbidden = found.length ? found.join(",") : "none";
      row.target = [
        ...(sizeLimit ? [`bytes < ${sizeLimit}`] : []),
        ...(forbidden.length ? [`none of ${forbidden.join(", ")}`] : []),
      ].join("; ");
      if (row.target === "") delete row.target;
      if (row.target) row.targetMet = found.length === 0 && (sizeLimit === undefined || item.bytes < sizeLimit);
    }
    rows.push(row);
  }
  return rows;
}
