import { constants, PerformanceObserver } from "node:perf_hooks";

/** Memory of this process while something runs. */
export interface MemoryFigures {
  /** Resident set before the run. */
  startRssMB: number;
  /** The process's largest resident set so far (`getrusage`), so it includes what ran before. */
  peakRssMB: number;
  /** Largest V8 heap seen by sampling, garbage included: how far V8 let the heap grow. */
  peakHeapMB: number;
  /**
   * Largest heap left right after a full (mark-compact) collection during the run, including the ones forced by
   * `checkpoint()`: what the run kept alive, not what it churned through. Forcing needs `--expose-gc`.
   */
  liveHeapMB: number;
}

const MB = 1024 * 1024;

export function trackMemory(intervalMs = 10): { checkpoint(): number; stop(): MemoryFigures } {
  const collect = (globalThis as { gc?: () => void }).gc;
  collect?.();
  const startRssMB = process.memoryUsage.rss() / MB;
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
    /** Forces a full collection now (when `--expose-gc` allows) and records what survives it; returns its pause, ms. */
    checkpoint(): number {
      const begin = performance.now();
      collect?.();
      live = Math.max(live, process.memoryUsage().heapUsed);
      return performance.now() - begin;
    },
    stop() {
      clearInterval(timer);
      observer.disconnect();
      peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
      return {
        startRssMB: round1(startRssMB),
        // maxRSS is in kilobytes.
        peakRssMB: round1((process.resourceUsage().maxRSS * 1024) / MB),
        peakHeapMB: round1(peakHeap / MB),
        liveHeapMB: round1(live / MB),
      };
    },
  };
}

const round1 = (value: number) => Math.round(value * 10) / 10;
