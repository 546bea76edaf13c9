/**
 * Everything the bench starts (child processes, temp directories) registers how to undo itself here, so it is undone
 * on a normal end, on a failure, and on Ctrl-C or SIGTERM. Exit-time steps must be synchronous.
 */
type SyncStep = () => void;

const steps = new Set<SyncStep>();
let installed = false;

/** Registers a synchronous undo step; returns a function that unregisters it (call it once the step has run). */
export function onExit(step: SyncStep): () => void {
  install();
  steps.add(step);
  return () => steps.delete(step);
}

/** Runs every registered step now (each once), newest first. */
export function runExitSteps(): void {
  for (const step of [...steps].reverse()) {
    steps.delete(step);
    try {
      step();
    } catch {
      // Best effort: one failing step must not keep the others from running.
    }
  }
}

function install(): void {
  if (installed) return;
  installed = true;
  process.once("exit", runExitSteps);
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      runExitSteps();
      process.exit(130);
    });
  }
}
