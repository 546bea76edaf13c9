import { randomUUID } from "node:crypto";
import { DeliveryLedger } from "./ledger.js";
import { LoadClient } from "./load-client.js";
import type { LoadTestOptions } from "./options.js";
import { type SandboxHandle, startChildProcess, startInProcess } from "./sandbox-process.js";
import { forEachLimited } from "./sandbox-service.js";

export interface LoadTestResult {
  passed: boolean;
  /** Why it failed, one line each. */
  failures: string[];
  clients: number;
  senders: number;
  messagesPerSender: number;
  inFlight: number;
  sandbox: "child process" | "in process";
  connectionsHeld: number;
  connectionsAtGateway: number;
  messagesSent: number;
  deliveriesExpected: number;
  deliveriesSeen: number;
  duplicates: number;
  losses: number;
  misorderedSenders: number;
  inconsistentIds: number;
  arrivalInversions: number;
  otherFrames: Record<string, number>;
  sandboxWarnings: number;
  /** What the sandbox process wrote to stderr (the AWS SDK's own warnings land there), the first lines of it. */
  sandboxStderr: string[];
  latencyMs: { p50: number; p99: number; max: number };
  seconds: { start: number; connect: number; messages: number; settle: number; total: number };
  deliveriesPerSecond: number;
}

class PhaseTimeout extends Error {
  override readonly name = "PhaseTimeout";
}

/**
 * One load test: a sandbox (in a child process unless told otherwise), `clients` signed-in sockets, and `senders` of
 * them each sending `messages` messages to the lobby, every client in it. A sender sends its next message once its
 * previous one has come back to it (see ledger.ts for why, and for what is judged). Then a flush marker through
 * every socket proves nothing more was on its way, and the ledger gives the verdict.
 */
export async function runLoadTest(
  options: LoadTestOptions,
  progress: (line: string) => void = () => {},
): Promise<LoadTestResult> {
  const started = performance.now();
  const seconds = { start: 0, connect: 0, messages: 0, settle: 0, total: 0 };
  const lap = (from: number) => (performance.now() - from) / 1000;
  const ledger = new DeliveryLedger(options.clients, options.senders, options.messages);
  const failures: string[] = [];
  const clients: LoadClient[] = [];
  let sandbox: SandboxHandle | undefined;
  let onComplete = () => {};
  const complete = new Promise<void>((resolve) => {
    onComplete = resolve;
  });

  // Pacing. A sender is ready for its next message once its previous one has come back to it (the order it can
  // count on); a ready sender sends when fewer than `inFlight` broadcasts are still reaching clients, so that no
  // broadcast waits behind so many others that it runs past API Gateway's 29 s integration timeout.
  const ready: { client: LoadClient; seq: number }[] = [];
  let broadcasting = 0;
  /** Set once the delivery phase is over (complete or timed out): nothing more is sent. */
  let stopped = false;
  const dispatch = () => {
    while (!stopped && broadcasting < options.inFlight && ready.length > 0) {
      const { client, seq } = ready.shift() as { client: LoadClient; seq: number };
      broadcasting++;
      ledger.recordSend(client.index, seq, performance.now());
      client.sendMessage(DeliveryLedger.text(client.index, seq));
    }
  };
  const readied = new Set<number>();
  const makeReady = (client: LoadClient, seq: number) => {
    // A duplicate echo must not make the sender send twice.
    const key = client.index * options.messages + seq;
    if (seq >= options.messages || readied.has(key)) return;
    readied.add(key);
    ready.push({ client, seq });
  };
  const onFrame = (client: LoadClient, frame: unknown, at: number) => {
    const message = ledger.recordFrame(client.index, frame, at);
    if (message?.sender === client.index) makeReady(client, message.seq + 1);
    if (message?.everywhere) broadcasting--;
    dispatch();
    if (ledger.complete) onComplete();
  };

  try {
    progress(`starting the sandbox ${options.inProcess ? "in this process" : "in a child process"}`);
    let phase = performance.now();
    sandbox = await bounded(
      options.inProcess ? startInProcess() : startChildProcess({ timeoutMs: options.phaseTimeoutMs }),
      options.phaseTimeoutMs,
      "starting the sandbox",
    );
    seconds.start = lap(phase);
    const endpoint = sandbox.endpoint;

    progress(`connecting ${options.clients} clients, ${options.connectConcurrency} at a time`);
    phase = performance.now();
    const connecting = forEachLimited(
      Array.from({ length: options.clients }, (_, index) => index),
      options.connectConcurrency,
      async (index) => {
        clients[index] = await LoadClient.connect(index, endpoint, onFrame);
      },
    );
    await bounded(connecting, options.phaseTimeoutMs, "connecting");
    seconds.connect = lap(phase);
    progress(`connected in ${seconds.connect.toFixed(1)} s`);

    progress(
      `${options.senders} senders × ${options.messages} messages → ${ledger.expected.toLocaleString("en")} deliveries, ` +
        `at most ${options.inFlight} broadcasts at once`,
    );
    phase = performance.now();
    for (const client of clients.slice(0, options.senders)) makeReady(client, 0);
    dispatch();
    await bounded(complete, options.phaseTimeoutMs, "delivering").catch((err: unknown) => {
      if (!(err instanceof PhaseTimeout)) throw err;
      failures.push(err.message);
    });
    stopped = true;
    seconds.messages = lap(phase);
    progress(`delivered ${ledger.seen.toLocaleString("en")} in ${seconds.messages.toFixed(1)} s; settling`);

    // Whatever was still on its way (a late duplicate, say) is in before the marker.
    phase = performance.now();
    const marker = randomUUID();
    const markers = Promise.all(
      clients.filter((client) => client.isOpen).map((client) => client.waitForMarker(marker)),
    );
    await bounded(
      sandbox.flush(marker).then(() => markers),
      options.phaseTimeoutMs,
      "settling",
    );
    seconds.settle = lap(phase);
  } catch (err) {
    failures.push(err instanceof Error ? err.message : String(err));
  }

  const stats = await sandbox?.stats().catch(() => undefined);
  const held = clients.filter((client) => client?.isOpen).length;
  for (const client of clients) client?.terminate();
  await sandbox?.close().catch(() => {});
  seconds.total = lap(started);

  const losses = ledger.expected - ledger.seen;
  const misordered = ledger.misorderedSenders();
  const errorFrames = [...ledger.otherFrames.entries()];
  if (held !== options.clients) failures.push(`${options.clients - held} of ${options.clients} connections were lost`);
  if (losses > 0) failures.push(`${losses} deliveries lost`);
  if (ledger.duplicates > 0) failures.push(`${ledger.duplicates} duplicate deliveries`);
  if (misordered > 0) failures.push(`${misordered} senders' messages got ids out of the order sent`);
  if (ledger.inconsistentIds > 0) failures.push(`${ledger.inconsistentIds} deliveries carried another id`);
  if (errorFrames.length > 0) {
    failures.push(`unexpected frames: ${errorFrames.map(([kind, count]) => `${kind} ×${count}`).join(", ")}`);
    failures.push(...ledger.otherFrameSamples.map((frame) => `  for example: ${frame}`));
  }
  const latency = ledger.latencySummary();
  return {
    passed: failures.length === 0,
    failures,
    clients: options.clients,
    senders: options.senders,
    messagesPerSender: options.messages,
    inFlight: options.inFlight,
    sandbox: options.inProcess ? "in process" : "child process",
    connectionsHeld: held,
    connectionsAtGateway: stats?.openConnections ?? 0,
    messagesSent: ledger.sent,
    deliveriesExpected: ledger.expected,
    deliveriesSeen: ledger.seen,
    duplicates: ledger.duplicates,
    losses,
    misorderedSenders: misordered,
    inconsistentIds: ledger.inconsistentIds,
    arrivalInversions: ledger.arrivalInversions,
    otherFrames: Object.fromEntries(errorFrames),
    sandboxWarnings: stats?.warnings ?? 0,
    sandboxStderr: sandbox?.stderr() ?? [],
    latencyMs: latency,
    seconds,
    deliveriesPerSecond: seconds.messages > 0 ? ledger.seen / seconds.messages : 0,
  };
}

/** `work`, or a `PhaseTimeout` naming `what` once `ms` have passed. */
function bounded<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new PhaseTimeout(`${what} took longer than ${ms / 1000} s`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
