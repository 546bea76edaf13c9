import { availableParallelism } from "node:os";
import type { Recipient } from "../core/broadcast.js";
import { systemClock, toEpochSeconds } from "../core/clock.js";
import type { FanoutBatch } from "../core/fanout-queue.js";
import { type BenchChild, startChild } from "./child-process.js";
import { connectionIdOf } from "./dynamo-fixture.js";
import { SAMPLE_FRAME } from "./fanout-variants.js";
import type { ManagementStubProcess } from "./management-stub-process.js";
import { type BenchRow, Section } from "./report.js";
import { makespan, round } from "./stats.js";
import type { WorkerBatchResult } from "./worker-service.js";

export interface WorkersSectionOptions {
  recipients: number;
  /** Recipients per queued batch, the message handler's `FANOUT_BATCH_SIZE`. */
  batchSize: number;
  workerCounts: readonly number[];
  /** Per worker, as `Broadcaster`'s default. */
  perWorkerConcurrency: number;
  /**
   * Sends of each worker's warm-up batch before the clock starts: the same work for every worker whatever W (a
   * warm-up by time would give each of W workers sharing two cores less of it). A few thousand, as the JIT needs.
   */
  warmUpSends: number;
  runTimeoutSeconds: number;
}

/**
 * Section 2: a broadcast too large for one invocation, already split into batches the way `Fanout` queues them,
 * drained by W fan-out workers (each a process running the real worker handler, pulling the next batch when done,
 * as Lambda's SQS poller hands batches to concurrent invocations).
 *
 * The model: every worker is a Lambda with its own CPU and its own `perWorkerConcurrency` sends in flight, and the
 * stub serves W × that many at once, i.e. the service is never the bottleneck (on AWS that holds while W workers
 * stay under the account's 10,000 requests/s). Floor: the best packing of the batches onto W workers, each batch
 * taking size × latency / perWorkerConcurrency. The workers' total CPU time is reported too: here all W share the
 * bench machine's cores, where on Lambda each has its own.
 */
export async function workersSection(
  stub: ManagementStubProcess,
  options: WorkersSectionOptions,
  progress: (line: string) => void,
): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const batches = makeBatches(options.recipients, options.batchSize);
  const { latencyMs } = stub.settings;
  const originalConcurrency = stub.settings.concurrency;
  try {
    for (const w of options.workerCounts) {
      progress(`workers: W=${w}, ${options.recipients} recipients`);
      await stub.configure({ concurrency: w * options.perWorkerConcurrency });
      const floorSeconds = makespan(
        batches.map((batch) => (batch.recipients.length * latencyMs) / 1000 / options.perWorkerConcurrency),
        w,
      );
      let drained: Awaited<ReturnType<typeof drain>>;
      try {
        drained = await drain(stub, batches, w, options);
        if (drained.delivered !== options.recipients) {
          throw new Error(`delivered ${drained.delivered} of ${options.recipients}`);
        }
      } catch (err) {
        // One W that does not finish (a timeout on an overloaded machine) leaves the others' rows standing.
        const reason = (err instanceof Error ? err.message : String(err)).split("\n")[0];
        rows.push({
          section: Section.Workers,
          variant: "product",
          case: `W=${w}`,
          recipients: options.recipients,
          seconds: Number.NaN,
          floorSeconds: round(floorSeconds),
          ratio: Number.NaN,
          note: `did not finish: ${reason}`,
        });
        continue;
      }
      const { seconds, cpuSeconds } = drained;
      const { meanActive } = await stub.stats();
      rows.push({
        section: Section.Workers,
        variant: "product",
        case: `W=${w}`,
        recipients: options.recipients,
        seconds: round(seconds),
        floorSeconds: round(floorSeconds),
        sendsPerSec: Math.round(options.recipients / seconds),
        cpuSeconds: round(cpuSeconds),
        meanInFlight: Math.round(meanActive),
        ratio: round(seconds / floorSeconds),
      });
    }
  } finally {
    await stub.configure({ concurrency: originalConcurrency });
  }
  // Target: each W faster than the one before it, as far as this machine can show it. Every worker is CPU-bound,
  // so W workers beyond the machine's cores only share them, where on Lambda each brings its own.
  const cores = availableParallelism();
  for (let i = 1; i < rows.length; i++) {
    const row = rows[i] as BenchRow;
    const previous = rows[i - 1] as BenchRow;
    if ((options.workerCounts[i] ?? 0) > cores) {
      row.note ??= `not judged: ${row.case} workers share this machine's ${cores} cores`;
      continue;
    }
    row.target = `seconds < ${previous.case}'s`;
    row.targetMet = (row.seconds as number) < (previous.seconds as number);
  }
  return rows;
}

/** Starts `w` warm workers, then times them draining the batches. */
async function drain(
  stub: ManagementStubProcess,
  batches: FanoutBatch[],
  w: number,
  { runTimeoutSeconds: timeoutSeconds, warmUpSends }: WorkersSectionOptions,
): Promise<{ seconds: number; delivered: number; cpuSeconds: number }> {
  const workers: BenchChild[] = [];
  try {
    const started = await Promise.allSettled(
      Array.from({ length: w }, () => startChild("fanout-worker", { managementEndpoint: stub.endpoint })),
    );
    for (const result of started) if (result.status === "fulfilled") workers.push(result.value);
    const failure = started.find((result) => result.status === "rejected");
    if (failure) throw failure.reason;
    // A warm Lambda: one batch each before the clock starts.
    const warmUp = JSON.stringify(batchOf(warmUpIds(warmUpSends)));
    await Promise.all(
      workers.map((worker, i) =>
        worker.call("handle", { messageId: `warm-up-${i}`, body: warmUp }, timeoutSeconds * 1000),
      ),
    );
    await stub.reset();
    await Promise.all(workers.map((worker) => worker.call("resetCpu", null, 10_000)));

    const queue = batches.map((batch, i) => ({ messageId: `batch-${i}`, body: JSON.stringify(batch) }));
    let next = 0;
    let delivered = 0;
    const deadline = Date.now() + timeoutSeconds * 1000;
    const begin = performance.now();
    await Promise.all(
      workers.map(async (worker) => {
        for (let item = queue[next++]; item !== undefined; item = queue[next++]) {
          const remaining = deadline - Date.now();
          if (remaining <= 0) throw new Error(`workers W=${w}: not done after ${timeoutSeconds} s`);
          const result = await worker.call<WorkerBatchResult>("handle", item, remaining);
          delivered += result.delivered;
        }
      }),
    );
    const seconds = (performance.now() - begin) / 1000;
    const cpu = await Promise.all(workers.map((worker) => worker.call<number>("cpu", null, 10_000)));
    return { seconds, delivered, cpuSeconds: cpu.reduce((sum, value) => sum + value, 0) };
  } finally {
    await Promise.all(workers.map((worker) => worker.close()));
  }
}

function makeBatches(recipients: number, batchSize: number): FanoutBatch[] {
  const batches: FanoutBatch[] = [];
  for (let start = 0; start < recipients; start += batchSize) {
    const size = Math.min(batchSize, recipients - start);
    batches.push(
      batchOf(
        Array.from({ length: size }, (_, i) => ({
          connectionId: connectionIdOf(start + i),
          expiresAt: nowSeconds() + 3600,
        })),
      ),
    );
  }
  return batches;
}

const nowSeconds = () => toEpochSeconds(systemClock());

const batchOf = (recipients: Recipient[]): FanoutBatch => ({ data: SAMPLE_FRAME, recipients, expiredAt: nowSeconds() });

/** Connection ids that are in no table: a worker's warm-up batch. */
const warmUpIds = (sends: number) => Array.from({ length: sends }, (_, i) => ({ connectionId: `warm-up-${i}` }));
