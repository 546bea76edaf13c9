import type { ServiceMethods } from "./child-protocol.js";
import { type FanoutContext, type FanoutVariant, type PreparedFanout, prepareFanout } from "./fanout-variants.js";
import { type HeapFigures, peakRssMB, trackHeap } from "./memory.js";

export interface FanoutWarmUpParams {
  variant: FanoutVariant;
  /** Recipients of each previous message: the room's first ones. */
  recipients: number;
  /** How long to keep sending previous messages. */
  seconds: number;
}

export interface FanoutRunParams {
  /** Connections in the table: `measureHeap` looks at the heap once half of them are sent. */
  recipients: number;
  /** Longest the run may take before it stops and its time is extrapolated (sequential only stops early). */
  maxSeconds: number;
}

export interface FanoutRunResult {
  /** Time of the (possibly cut short) broadcast. */
  seconds: number;
  sends: number;
  /** CPU time of this process during the broadcast. */
  cpuSeconds: number;
  /** The process's largest resident set so far (`getrusage`), so it includes the warm-up. */
  peakRssMB: number;
}

/**
 * The `fanout-runner` child service: one variant in a process of its own, so that its memory is its own.
 * `warmUp` builds the variant's clients and sends previous messages, as a warm Lambda has; `run` times the next
 * one (the parent resets the stub's figures in between); `measureHeap` sends one more to see what a broadcast holds.
 * Time and heap come from separate broadcasts because looking at the heap slows the broadcast down
 * (docs/PERFORMANCE.md, method of section 1).
 */
export async function serve(context: FanoutContext): Promise<ServiceMethods> {
  let fanout: PreparedFanout | undefined;
  const prepared = () => {
    if (!fanout) throw new Error("called before warmUp");
    return fanout;
  };
  return {
    warmUp: async ({ variant, recipients, seconds }: FanoutWarmUpParams): Promise<void> => {
      fanout = prepareFanout(variant, context);
      await fanout.warmUp({ recipients, until: performance.now() + seconds * 1000 });
    },
    run: async ({ maxSeconds }: FanoutRunParams): Promise<FanoutRunResult> => {
      const cpu = process.cpuUsage();
      const started = performance.now();
      const { sends } = await prepared().run(started + maxSeconds * 1000, () => {});
      const seconds = (performance.now() - started) / 1000;
      const used = process.cpuUsage(cpu);
      return { seconds, sends, cpuSeconds: (used.user + used.system) / 1e6, peakRssMB: peakRssMB() };
    },
    /** Heap figures of one more broadcast, with a forced full collection once half of it is sent. */
    measureHeap: async ({ recipients, maxSeconds }: FanoutRunParams): Promise<HeapFigures> => {
      const heap = trackHeap();
      let sent = 0;
      const half = Math.ceil(recipients / 2);
      await prepared().run(performance.now() + maxSeconds * 1000, () => {
        if (++sent === half) heap.checkpoint();
      });
      return heap.stop();
    },
  };
}
