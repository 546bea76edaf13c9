import type { ServiceMethods } from "./child-protocol.js";
import { type FanoutContext, type FanoutVariant, type PreparedFanout, prepareFanout } from "./fanout-variants.js";
import { type MemoryFigures, trackMemory } from "./memory.js";

export interface FanoutWarmUpParams {
  variant: FanoutVariant;
  /** Recipients of the warm-up broadcast: the room's first ones. */
  warmUpSends: number;
}

export interface FanoutRunParams {
  /** Connections in the table: the heap is checked after a forced full collection once half of them are sent. */
  recipients: number;
  /** Longest the run may take before it stops and its time is extrapolated (sequential only stops early). */
  maxSeconds: number;
}

export interface FanoutRunResult extends MemoryFigures {
  /** Time of the (possibly cut short) broadcast. */
  seconds: number;
  sends: number;
  /** CPU time of this process during the broadcast. */
  cpuSeconds: number;
}

/**
 * The `fanout-runner` child service: one variant, one broadcast, in a process of its own so its peak RSS is its own.
 * `warmUp` builds the variant's clients and sends the previous message, as a warm Lambda has; `run` measures the next
 * one (the parent resets the stub's figures in between). Halfway through, one forced full
 * collection (a pause of 10 to 20 ms, left out of the time) shows what the broadcast holds at that point.
 */
export async function serve(context: FanoutContext): Promise<ServiceMethods> {
  let fanout: PreparedFanout | undefined;
  return {
    warmUp: async ({ variant, warmUpSends }: FanoutWarmUpParams): Promise<void> => {
      fanout = prepareFanout(variant, context);
      await fanout.warmUp(warmUpSends);
    },
    run: async ({ recipients, maxSeconds }: FanoutRunParams): Promise<FanoutRunResult> => {
      if (!fanout) throw new Error("run before warmUp");
      const memory = trackMemory();
      const cpu = process.cpuUsage();
      const started = performance.now();
      let sent = 0;
      let pauseMs = 0;
      const half = Math.ceil(recipients / 2);
      const { sends } = await fanout.run(started + maxSeconds * 1000, () => {
        if (++sent === half) pauseMs = memory.checkpoint();
      });
      // The forced collection is the bench's instrument, not the broadcast's work: its pause is not timed.
      const seconds = (performance.now() - started - pauseMs) / 1000;
      const used = process.cpuUsage(cpu);
      return { seconds, sends, cpuSeconds: (used.user + used.system) / 1e6, ...memory.stop() };
    },
  };
}
