import type { ServiceMethods } from "./child-protocol.js";
import { type FanoutContext, type FanoutVariant, prepareFanout } from "./fanout-variants.js";
import { type MemoryFigures, trackMemory } from "./memory.js";

export interface FanoutRunParams {
  variant: FanoutVariant;
  /** Connections in the table: the heap is checked after a forced full collection once half of them are sent. */
  recipients: number;
  /** Sends of the warm-up broadcast, to ids not in the table. */
  warmUpSends: number;
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
 * Clients are built and warmed before the clock starts, as in a warm Lambda. Halfway through, one forced full
 * collection (a pause of 10 to 20 ms, left out of the time) shows what the broadcast holds at that point.
 */
export async function serve(context: FanoutContext): Promise<ServiceMethods> {
  return {
    run: async ({ variant, recipients, warmUpSends, maxSeconds }: FanoutRunParams): Promise<FanoutRunResult> => {
      const fanout = prepareFanout(variant, context);
      await fanout.warmUp(warmUpSends);
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
