import { setPriority } from "node:os";
import { type BenchChild, startChild } from "./child-process.js";
import type { StubOptions, StubSettings, StubStats } from "./management-stub.js";

/** The management API stub, running in a child process; see `management-stub.ts`. */
export interface ManagementStubProcess {
  /** What `createManagementClient({ endpoint })` takes: `http://127.0.0.1:<port>/<stage>`. */
  readonly endpoint: string;
  readonly settings: StubSettings;
  stats(): Promise<StubStats>;
  reset(): Promise<void>;
  configure(settings: Partial<StubSettings>): Promise<void>;
  close(): Promise<void>;
}

const CALL_TIMEOUT_MS = 10_000;

/**
 * Niceness of the stub process. It stands for a remote service with CPUs of its own; at the default priority, the
 * 8 worker processes and whatever else runs on the machine would starve it and its timers would fire late, charging
 * the stub's slowness to the code under test. It needs a few per cent of a core.
 */
const STUB_PRIORITY = -5;

export async function startManagementStub(options: StubOptions = {}): Promise<ManagementStubProcess> {
  const child: BenchChild = await startChild("management-stub", options);
  try {
    try {
      if (child.pid !== undefined) setPriority(child.pid, STUB_PRIORITY);
    } catch {
      // Not allowed (not root, no CAP_SYS_NICE): run at the default priority.
    }
    const info = await child.call<{ endpoint: string; settings: StubSettings }>("info", null, CALL_TIMEOUT_MS);
    const settings = { ...info.settings };
    return {
      endpoint: info.endpoint,
      settings,
      stats: () => child.call<StubStats>("stats", null, CALL_TIMEOUT_MS),
      reset: () => child.call<void>("reset", null, CALL_TIMEOUT_MS),
      async configure(next) {
        await child.call<void>("configure", next, CALL_TIMEOUT_MS);
        Object.assign(settings, next);
      },
      close: () => child.close(),
    };
  } catch (err) {
    await child.close();
    throw err;
  }
}
