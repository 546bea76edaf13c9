/**
 * The load test's sandbox in a process of its own (see `sandbox-process.ts`), so that the sandbox and the thousand
 * clients each get an event loop and the two cores are both used. Answers calls over IPC; exits when the parent lets
 * go of it or dies.
 */
import type { IpcReply } from "../bench/ipc-calls.js";
import { type SandboxService, startSandboxService } from "./sandbox-service.js";

export type ChildRequest =
  | { id: number; method: "endpoint" | "stats" | "close" }
  | { id: number; method: "flush"; marker: string };

if (!process.send) {
  console.error("loadtest sandbox child: start me with an IPC channel (see loadtest/sandbox-process.ts)");
  process.exit(2);
}

const service: Promise<SandboxService> = startSandboxService();
const reply = (message: IpcReply) => process.send?.(message);

process.on("message", (request: ChildRequest) => {
  void (async () => {
    const sandbox = await service;
    switch (request.method) {
      case "endpoint":
        return sandbox.endpoint();
      case "stats":
        return sandbox.stats();
      case "flush":
        return sandbox.flush(request.marker);
      case "close":
        return sandbox.close();
    }
  })().then(
    (result) => reply({ id: request.id, ok: true, result: result ?? null }),
    (err: unknown) =>
      reply({ id: request.id, ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
  );
});

// The parent let go of us, or died. Closing would run $disconnect for every socket (and the presence broadcasts
// that follow): nobody is listening any more, so just leave.
process.on("disconnect", () => process.exit(0));
