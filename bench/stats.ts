/** Small statistics for the bench's samples. */

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

/** Nearest-rank percentile, `p` in [0, 100]; NaN for no values. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] as number;
}

/** Rounds to `digits` decimals, for rows that people read. */
export function round(value: number, digits = 3): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

/**
 * The shortest time `jobs` take on `workers` parallel workers when each job runs alone on one (longest first, each
 * to the least loaded worker): the floor of a pool that hands out whole jobs.
 */
export function makespan(jobs: readonly number[], workers: number): number {
  const loads = new Array<number>(Math.max(1, workers)).fill(0);
  for (const job of [...jobs].sort((a, b) => b - a)) {
    let least = 0;
    for (let i = 1; i < loads.length; i++) if ((loads[i] as number) < (loads[least] as number)) least = i;
    loads[least] = (loads[least] as number) + job;
  }
  return Math.max(...loads);
}
