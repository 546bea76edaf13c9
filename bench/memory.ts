import { constants, PerformanceObserver } from "node:perf_hooks";

/** The V8 heap while something ran. */
export interface HeapFigures {
  /** Largest heap seen by sampling, garbage included: how far V8 let the heap grow. */
  peakHeapMB: number;
  /**
   * Largest heap left right after a full (mark-compact) collection, including the ones forced by `checkpoint()`:
   * what the run kept alive, not what it churned through. Forcing needs `--expose-gc`.
   */
  liveHeapMB: number;
}

const MB = 1024 * 1024;

/** The process's largest resident set so far, MB (`getrusage`'s maxRSS is in kilobytes). */
export const peakRssMB = (): number => round1(process.resourceUsage().maxRSS * 1024);

/** Watches the heap until `stop()`; it costs the work it watches, so time that work separately. */
export function trackHeap(intervalMs = 10): { checkpoint(): void; stop(): HeapFigures } {
  const collect = (globalThis as { gc?: () => void }).gc;
  collect?.();
  let live = process.memoryUsage().heapUsed;
  let peakHeap = live;
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      if ((entry as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) {
        live = Math.max(live, process.memoryUsage().heapUsed);
      }
    }
  });
  observer.observe({ entryTypes: ["gc"] });
  const timer = setInterval(() => {
    peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
  }, intervalMs);
  timer.unref();
  return {
    /** Forces a full collection now (when `--expose-gc` allows) and records what survives it. */
    checkpoint() {
      collect?.();
      live = Math.max(live, process.memoryUsage().heapUsed);
    },
    stop() {
      clearInterval(timer);
      observer.disconnect();
      peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
      return { peakHeapMB: round1(peakHeap), liveHeapMB: round1(live) };
    },
  };
}

const round1 = (bytes: number) => Math.round((bytes / MB) * 10) / 10;
