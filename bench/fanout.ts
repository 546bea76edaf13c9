import { withChild } from "./child-process.js";
import type { RoomTableFixture } from "./dynamo-fixture.js";
import type { FanoutRunParams, FanoutRunResult, FanoutWarmUpParams } from "./fanout-runner.js";
import { FanoutVariant } from "./fanout-variants.js";
import type { ManagementStubProcess } from "./management-stub-process.js";
import type { HeapFigures } from "./memory.js";
import { type BenchRow, Section } from "./report.js";
import { round } from "./stats.js";

export interface FanoutSectionOptions {
  /** Room sizes, smallest first. */
  sizes: readonly number[];
  /** Sizes at which the sequential loop runs too (it is slow). */
  sequentialSizes: readonly number[];
  /** Sizes at which the bare-http variant runs (it tells what HTTP alone costs). */
  leanSizes: readonly number[];
  /** The sequential loop stops after this long; its time for the whole room is extrapolated. */
  sequentialMaxSeconds: number;
  /**
   * Before the clock starts, each variant sends previous messages to the room's first `warmUpRecipients` members for
   * `warmUpSeconds`, so that code, sockets and reads are warm, as in a Lambda that has been serving the room. The same
   * time for every variant: the JIT needs several thousand sends before a broadcast's CPU per send settles (a single
   * 1,000-recipient warm-up left the product's next 1,000-recipient broadcast at twice its settled time).
   */
  warmUpRecipients: number;
  warmUpSeconds: number;
  /** No run may take longer than this. */
  runTimeoutSeconds: number;
}

/** Target: the product within this factor of the floor. */
export const FANOUT_MAX_RATIO = 1.25;
/**
 * Target: the heap a broadcast keeps alive (see `HeapFigures.liveHeapMB`) at most this much above the smallest
 * room's at every N: two pages of recipients and 200 requests in flight are a few MB whatever the room.
 */
export const FANOUT_MEMORY_SLACK_MB = 16;

/**
 * Section 1: one broadcast to a room of N members in a local rooms table, through the management API stub, per
 * variant, each in a fresh process. Floor: N × latency / concurrency, what the stub allows at best.
 */
export async function fanoutSection(
  table: RoomTableFixture,
  stub: ManagementStubProcess,
  options: FanoutSectionOptions,
  progress: (line: string) => void,
): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const { latencyMs, concurrency } = stub.settings;
  for (const n of options.sizes) {
    progress(`fanout: loading ${n} room members`);
    await table.growTo(n);
    const floorSeconds = (n * latencyMs) / 1000 / concurrency;
    const variants: FanoutVariant[] = [FanoutVariant.Product, FanoutVariant.SdkClient, FanoutVariant.AwsSample];
    if (options.leanSizes.includes(n)) variants.push(FanoutVariant.BareHttp);
    if (options.sequentialSizes.includes(n)) variants.push(FanoutVariant.Sequential);
    for (const variant of variants) {
      progress(`fanout: ${variant} N=${n}`);
      const capped = variant === FanoutVariant.Sequential;
      const params: FanoutRunParams = {
        recipients: n,
        maxSeconds: capped ? options.sequentialMaxSeconds : options.runTimeoutSeconds,
      };
      const callTimeoutMs = (options.runTimeoutSeconds + 30) * 1000;
      let begin = performance.now();
      let measured: {
        result: FanoutRunResult;
        heap?: HeapFigures;
        heapFailure?: string;
        posts: number;
        meanActive: number;
      };
      try {
        measured = await withChild(
          "fanout-runner",
          {
            dynamoEndpoint: table.endpoint,
            tableName: table.tableName,
            room: table.room,
            managementEndpoint: stub.endpoint,
          },
          async (child) => {
            await child.call(
              "warmUp",
              {
                variant,
                recipients: options.warmUpRecipients,
                seconds: options.warmUpSeconds,
              } satisfies FanoutWarmUpParams,
              callTimeoutMs,
            );
            await stub.reset(); // the stub's figures are the timed broadcast's
            begin = performance.now();
            const result = await child.call<FanoutRunResult>("run", params, callTimeoutMs);
            const { posts, meanActive } = await stub.stats();
            // A run cut short never reaches the halfway look at the heap; another would only take as long again.
            if (result.sends < n) return { result, posts, meanActive };
            try {
              const heapParams = { recipients: n, maxSeconds: options.runTimeoutSeconds };
              const heap = await child.call<HeapFigures>("measureHeap", heapParams, callTimeoutMs);
              return { result, heap, posts, meanActive };
            } catch (err) {
              // The timed broadcast stands; only what it holds is unknown (the AWS sample may run out of memory).
              return { result, posts, meanActive, heapFailure: failureReason(err) };
            }
          },
        );
      } catch (err) {
        // A comparison that dies (the AWS sample's Promise.all on large rooms) is a result, not a bench failure.
        if (variant === FanoutVariant.Product) throw err;
        const { posts } = await stub.stats();
        rows.push(crashed(variant, n, floorSeconds, (performance.now() - begin) / 1000, posts, err));
        continue;
      }
      const { result, heap, heapFailure, posts, meanActive } = measured;
      if (!capped && result.sends !== n) throw new Error(`fanout ${variant} N=${n}: sent ${result.sends} of ${n}`);
      if (posts < result.sends)
        throw new Error(`fanout ${variant} N=${n}: the stub saw ${posts} of ${result.sends} sends`);
      const extrapolated = result.sends < n;
      const seconds = extrapolated ? (result.seconds * n) / Math.max(1, result.sends) : result.seconds;
      rows.push({
        section: Section.Fanout,
        variant,
        case: `N=${n}`,
        seconds: round(seconds),
        floorSeconds: round(floorSeconds),
        cpuMsPerSend: round((result.cpuSeconds * 1000) / Math.max(1, result.sends)),
        meanInFlight: Math.round(meanActive),
        peakRssMB: result.peakRssMB,
        ...heap,
        ratio: round(seconds / floorSeconds),
        ...(extrapolated
          ? { note: `extrapolated: ${result.sends} of ${n} sends in ${result.seconds.toFixed(1)} s (capped)` }
          : {}),
        ...(heapFailure ? { note: `no heap figures: the heap broadcast failed: ${heapFailure}` } : {}),
      });
    }
  }
  judge(rows);
  return rows;
}

function crashed(
  variant: FanoutVariant,
  n: number,
  floorSeconds: number,
  seconds: number,
  arrived: number,
  err: unknown,
): BenchRow {
  const reason = failureReason(err);
  return {
    section: Section.Fanout,
    variant,
    case: `N=${n}`,
    seconds: Number.NaN,
    floorSeconds: round(floorSeconds),
    ratio: Number.NaN,
    note: `did not finish: ${reason} after ${seconds.toFixed(1)} s, when ${arrived} of its ${n} sends had reached the stub`,
  };
}

/** A child's failure in a few words: V8's out-of-memory message, or the error's first line. */
function failureReason(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return /heap out of memory|Allocation failed/i.test(message) ? "ran out of V8 heap" : (message.split("\n")[0] ?? "");
}

/** The product's rows: within FANOUT_MAX_RATIO of the floor, and live heap flat from the smallest room up. */
function judge(rows: BenchRow[]): void {
  const product = rows.filter((row) => row.variant === FanoutVariant.Product);
  const baseline = product[0]?.liveHeapMB as number | undefined;
  for (const row of product) {
    const fast = row.ratio <= FANOUT_MAX_RATIO;
    const flat = baseline === undefined || (row.liveHeapMB as number) <= baseline + FANOUT_MEMORY_SLACK_MB;
    row.target = `ratio ≤ ${FANOUT_MAX_RATIO}; liveHeapMB ≤ smallest N's + ${FANOUT_MEMORY_SLACK_MB}`;
    row.targetMet = fast && flat;
  }
}
