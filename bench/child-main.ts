/**
 * Entry of every bench child process (see `child-process.ts`): runs the service named in `BENCH_SERVICE`, answers
 * calls over IPC, and exits when the bench process lets go of it or dies.
 */
import type { ChildReply, ChildRequest, ServiceMethods, ServiceName } from "./child-protocol.js";
import { SERVICES } from "./child-protocol.js";

const name = process.env.BENCH_SERVICE as ServiceName | undefined;
if (!name || !(name in SERVICES) || !process.send) {
  console.error(`bench child: unknown service ${String(name)}, or not started with an IPC channel`);
  process.exit(2);
}

let methods: ServiceMethods | undefined;

const reply = (message: ChildReply) => process.send?.(message);

process.on("message", (request: ChildRequest) => {
  void handle(request).then(
    (result) => reply({ id: request.id, ok: true, result: result ?? null }),
    (err: unknown) =>
      reply({ id: request.id, ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
  );
});

async function handle({ method, params }: ChildRequest): Promise<unknown> {
  if (method === "start") {
    if (methods) throw new Error("already started");
    const module = await SERVICES[name as ServiceName]();
    methods = await module.serve(params as never);
    return null;
  }
  const fn = methods?.[method];
  if (!fn) throw new Error(`no method ${method}`);
  return fn(params as never);
}

// The bench process let go of the child, or died: close what the service holds and leave.
process.on("disconnect", () => {
  const done = () => process.exit(0);
  setTimeout(done, 4000).unref();
  void (methods?.close?.() ?? Promise.resolve()).finally(done);
});
