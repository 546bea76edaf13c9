import { writeFile } from "node:fs/promises";

export const Section = {
  Fanout: "fanout",
  Workers: "workers",
  Authorizer: "authorizer",
  Coldstart: "coldstart",
  E2e: "e2e",
} as const;
export type Section = (typeof Section)[keyof typeof Section];

/**
 * One measurement. Figures carry their unit in their key (`seconds`, `peakRssMB`, `opsPerSec`, `bytes`, `p99Ms`);
 * `ratio` is the figure the section's target is judged by (time ÷ floor for fan-out, rate ÷ floor for the
 * authorizer, ...). `target` says what the row is held to and `targetMet` whether it is; rows that are only there for
 * comparison have neither.
 */
export interface BenchRow {
  section: Section;
  variant: string;
  case: string;
  ratio: number;
  target?: string;
  targetMet?: boolean;
  /** How the figures were obtained when that is not obvious (extrapolated, capped, ...). */
  note?: string;
  [figure: string]: string | number | boolean | null | undefined;
}

const FIXED_KEYS = new Set(["section", "variant", "case", "ratio", "target", "targetMet", "note"]);

/** The row's figures, in the order they were set. */
export const figuresOf = (row: BenchRow): [string, number | string | boolean][] =>
  Object.entries(row)
    .filter(([key, value]) => !FIXED_KEYS.has(key) && value !== undefined)
    // JSON turns NaN (a run that did not finish) into null.
    .map(([key, value]): [string, number | string | boolean] => [key, value ?? Number.NaN]);

const COLUMNS = ["section", "variant", "case", "figures", "ratio", "target met"] as const;

/** A row's cells in `COLUMNS` order; `missed` is how a missed target reads. */
const cellsOf = (row: BenchRow, missed: string): string[] => [
  row.section,
  row.variant,
  row.case,
  figuresOf(row)
    .map(([key, value]) => `${key}=${formatValue(value)}`)
    .join(" "),
  formatNumber(row.ratio),
  row.targetMet === undefined ? "-" : `${row.targetMet ? "yes" : missed} (${row.target ?? ""})`,
];

/** The table `npm run bench` prints: one line per row. */
export function formatTable(rows: readonly BenchRow[]): string {
  const header = [...COLUMNS];
  const lines = rows.map((row) => cellsOf(row, "NO"));
  const widths = header.map((title, column) =>
    Math.max(title.length, ...lines.map((line) => line[column]?.length ?? 0)),
  );
  const format = (cells: string[]) =>
    cells
      .map((cell, column) => cell.padEnd(widths[column] ?? 0))
      .join("  ")
      .trimEnd();
  const notes = rows.filter((row) => row.note).map((row) => `  ${row.section}/${row.variant}/${row.case}: ${row.note}`);
  return [
    format(header),
    format(widths.map((width) => "-".repeat(width))),
    ...lines.map(format),
    ...(notes.length ? ["", "notes:", ...notes] : []),
  ].join("\n");
}

/** The same table as Markdown, notes below it, for docs/PERFORMANCE.md. */
export function formatMarkdown(rows: readonly BenchRow[]): string {
  const line = (values: string[]) => `| ${values.join(" | ")} |`;
  const notes = rows.filter((row) => row.note).map((row) => `- ${row.section}/${row.variant}/${row.case}: ${row.note}`);
  return [
    line([...COLUMNS]),
    line(COLUMNS.map(() => "---")),
    ...rows.map((row) => line(cellsOf(row, "**no**"))),
    ...(notes.length ? ["", ...notes] : []),
  ].join("\n");
}

export async function writeJson(file: string, rows: readonly BenchRow[]): Promise<void> {
  await writeFile(file, `${JSON.stringify(rows, null, 2)}\n`);
}

function formatValue(value: number | string | boolean): string {
  return typeof value === "number" ? formatNumber(value) : String(value);
}

function formatNumber(value: number): string {
  // NaN (null once in JSON): the run did not finish; its note says why.
  if (value === null || Number.isNaN(value)) return "—";
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value)) return String(value);
  const magnitude = Math.abs(value);
  return value.toFixed(magnitude >= 100 ? 0 : magnitude >= 10 ? 1 : magnitude >= 1 ? 2 : 3);
}
