/**
 * Builds the page: esbuild bundles `web/src/main.ts` (and the CSS it imports) into content-hashed files under
 * `assets/`, and `index.html` is written from `web/index.html` pointing at them. Hashed names can be cached forever;
 * only `index.html` and `config.json` must not be.
 *
 * Script use: `tsx web/build.ts --outdir dist/web [--no-minify] [--sourcemap]`.
 */
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";

export interface BuildWebOptions {
  outdir: string;
  /** @default true */
  minify?: boolean;
  /** @default false */
  sourcemap?: boolean;
}

export interface BuildWebResult {
  /** Every file written, relative to `outdir`, with `/` separators (`index.html`, `assets/main-XXXX.js`, ...). */
  files: string[];
}

const webDir = path.dirname(fileURLToPath(import.meta.url));

export async function buildWeb(options: BuildWebOptions): Promise<BuildWebResult> {
  const outdir = path.resolve(options.outdir);
  // Hashed names change every build: clear old ones so the output is exactly this build.
  await rm(path.join(outdir, "assets"), { recursive: true, force: true });
  await mkdir(outdir, { recursive: true });

  const result = await build({
    entryPoints: [path.join(webDir, "src/main.ts")],
    outdir,
    bundle: true,
    format: "esm",
    // Splitting puts dynamic imports (supertokens-web-js, SuperTokens mode only) in their own chunks.
    splitting: true,
    platform: "browser",
    target: "es2022",
    entryNames: "assets/[name]-[hash]",
    chunkNames: "assets/chunk-[hash]",
    assetNames: "assets/[name]-[hash]",
    minify: options.minify ?? true,
    sourcemap: options.sourcemap ?? false,
    metafile: true,
    legalComments: "linked",
    define: { "process.env.NODE_ENV": '"production"' },
    logLevel: "warning",
    write: true,
  });

  const outputs = Object.entries(result.metafile.outputs).map(([file, meta]) => ({
    file: toPosix(path.relative(outdir, path.resolve(file))),
    meta,
  }));
  const script = outputs.find(({ meta }) => meta.entryPoint !== undefined && !meta.entryPoint.endsWith(".css"));
  const styles =
    outputs.find(({ file, meta }) => file.endsWith(".css") && script?.meta.cssBundle === meta.cssBundle) ??
    outputs.find(({ file }) => file.endsWith(".css"));
  if (!script || !styles) throw new Error("buildWeb: esbuild produced no script or no stylesheet");

  // Chunks the entry imports statically would otherwise be discovered only once it has downloaded and parsed.
  const preloads = script.meta.imports
    .filter(({ kind, external }) => kind === "import-statement" && !external)
    .map(
      ({ path: file }) => `<link rel="modulepreload" href="${toPosix(path.relative(outdir, path.resolve(file)))}" />`,
    )
    .join("\n    ");

  const template = await readFile(path.join(webDir, "index.html"), "utf8");
  const html = fill(template, { script: script.file, styles: styles.file, preloads });
  await writeFile(path.join(outdir, "index.html"), html);

  return { files: ["index.html", ...outputs.map(({ file }) => file)].sort() };
}

function fill(template: string, values: Record<string, string>): string {
  return template.replace(/\{\{(\w+)\}\}/g, (match, key: string) => {
    const value = values[key];
    if (value === undefined) throw new Error(`web/index.html: no value for ${match}`);
    return value;
  });
}

const toPosix = (file: string) => file.split(path.sep).join("/");

async function main(argv: string[]): Promise<void> {
  const arg = (name: string) => {
    const index = argv.indexOf(name);
    return index >= 0 ? argv[index + 1] : undefined;
  };
  const outdir = arg("--outdir") ?? "dist/web";
  const { files } = await buildWeb({
    outdir,
    minify: !argv.includes("--no-minify"),
    sourcemap: argv.includes("--sourcemap"),
  });
  for (const file of files) {
    const bytes = await readFile(path.join(outdir, file));
    const size = `${(bytes.length / 1024).toFixed(1)} KB (${(gzipSync(bytes).length / 1024).toFixed(1)} KB gzip)`;
    console.log(`${path.join(outdir, file).padEnd(52)} ${size}`);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
