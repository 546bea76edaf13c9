import type { SQSBatchResponse, SQSEvent } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FanoutBatch } from "../../core/fanout-queue.js";
import type { MessageFrame } from "../../core/protocol.js";
import { LocalFanoutQueue, type LocalFanoutQueueOptions } from "../../sandbox/fanout-queue.js";
import { InFlight } from "../../sandbox/in-flight.js";
import type { Invocation, Outcome } from "../../sandbox/invoker.js";
import { deferred } from "../support/deferred.js";
import {
  type ChatClient,
  connectAs,
  connectionIdOf,
  flushDeliveries,
  startTestSandbox,
  type TestSandbox,
} from "../support/sandbox.js";

const isMessage = (text: string) => (frame: unknown) =>
  (frame as MessageFrame).type === "message" && (frame as MessageFrame).text === text;
const workerRuns = (invocations: readonly Invocation[]) =>
  invocations.filter(
    (invocation): invocation is Extract<Invocation, { handler: "fanout-worker" }> =>
      invocation.handler === "fanout-worker",
  );

// Broadcasts past one batch go to the fan-out workers, which the sandbox runs in the process as the stack runs them
// behind SQS: the real worker handler, invoked with SQS events.
describe("fan-out workers through the sandbox", () => {
  let sandbox: TestSandbox;
  const invocations: Invocation[] = [];
  /** While set, the next worker invocation fails as a crashed Lambda would. */
  let failNextWorker = false;
  beforeAll(async () => {
    sandbox = await startTestSandbox({
      fanoutBatchSize: 2,
      fanoutWorkers: 2,
      onInvoke: (invocation) => invocations.push(invocation),
      handlers: (real) => ({
        fanoutWorker: async (event) => {
          if (failNextWorker) {
            failNextWorker = false;
            throw new Error("worker crashed");
          }
          return real.fanoutWorker(event);
        },
      }),
    });
  });
  afterAll(() => sandbox.close());

  let clients: ChatClient[];
  it("delivers to 7 clients exactly once with FANOUT_BATCH_SIZE=2: one batch inline, three through workers", async () => {
    clients = [];
    for (const name of ["f1", "f2", "f3", "f4", "f5", "f6", "f7"]) clients.push(await connectAs(sandbox, name));
    const [sender] = clients as [ChatClient];
    expect(sandbox.env.FANOUT_BATCH_SIZE).toBe("2");

    sender.send({ action: "sendmessage", text: "to all seven" });
    await Promise.all(clients.map((client) => client.waitFor(isMessage("to all seven"))));
    await flushDeliveries(sandbox, clients);

    for (const client of clients) expect(client.framesWhere(isMessage("to all seven"))).toHaveLength(1);
    const runs = workerRuns(invocations);
    expect(runs).toHaveLength(3);
    const batches = runs.map((run) => {
      expect(run.outcome).toEqual({ ok: true, value: { batchItemFailures: [] } });
      expect(run.event.Records).toHaveLength(1);
      return JSON.parse(run.event.Records[0]?.body ?? "") as FanoutBatch;
    });
    expect(batches.map((batch) => batch.recipients.length).sort()).toEqual([1, 2, 2]);
    expect(batches.every((batch) => (JSON.parse(batch.data) as MessageFrame).text === "to all seven")).toBe(true);
    expect(sandbox.logLines.some((line) => /message .*delivered 2, queued 5, batchesQueued 3/.test(line))).toBe(true);
    expect(sandbox.logLines.filter((line) => /fan-out +batch \S+: delivered [12]$/.test(line))).toHaveLength(3);
  });

  it("queues a message holding characters SQS refuses unescaped (U+FFFE, U+FFFF), and delivers its exact text", async () => {
    const [sender] = clients as [ChatClient];
    const text = "odd \uFFFF and \uFFFE, fine \u{1F600}";
    const runsBefore = workerRuns(invocations).length;
    sender.send({ action: "sendmessage", text });
    await Promise.all(clients.map((client) => client.waitFor(isMessage(text))));
    await flushDeliveries(sandbox, clients);
    for (const client of clients) expect(client.framesWhere(isMessage(text))).toHaveLength(1);
    // Through the workers, not the inline fallback for a batch the queue refused.
    expect(workerRuns(invocations).length - runsBefore).toBe(3);
  });

  it("hands the worker SQS-shaped events", () => {
    const [record] = workerRuns(invocations)[0]?.event.Records ?? [];
    expect(record).toMatchObject({
      messageId: expect.any(String),
      receiptHandle: expect.any(String),
      md5OfBody: expect.stringMatching(/^[0-9a-f]{32}$/),
      eventSource: "aws:sqs",
      eventSourceARN: expect.stringMatching(/^arn:aws:sqs:us-east-1:000000000000:/),
      awsRegion: "us-east-1",
      attributes: { ApproximateReceiveCount: "1", SentTimestamp: expect.stringMatching(/^\d+$/) },
    });
  });

  it("receives a batch again when its worker crashes, and still delivers it once", async () => {
    const before = workerRuns(invocations).length;
    failNextWorker = true;
    const [sender] = clients as [ChatClient];
    sender.send({ action: "sendmessage", text: "despite a crash" });
    await Promise.all(clients.map((client) => client.waitFor(isMessage("despite a crash"))));
    await flushDeliveries(sandbox, clients);

    for (const client of clients) expect(client.framesWhere(isMessage("despite a crash"))).toHaveLength(1);
    const runs = workerRuns(invocations).slice(before);
    expect(runs).toHaveLength(4);
    const crashed = runs.find((run) => !run.outcome.ok);
    const retried = runs.find(
      (run) => run.event.Records[0]?.messageId === crashed?.event.Records[0]?.messageId && run !== crashed,
    );
    expect(retried?.event.Records[0]?.attributes.ApproximateReceiveCount).toBe("2");
    expect(sandbox.logLines.some((line) => /ERROR +fan-out worker failed .*worker crashed/.test(line))).toBe(true);
  });

  it("sends again, a second later, to the connections whose send failed for a moment, and only to them", async () => {
    await sandbox.hooks.idle(); // earlier broadcasts must not meet the faults
    const ids = clients.map((client) => connectionIdOf(sandbox, client.userId));
    const [inline, queued] = [ids[0] as string, ids[6] as string]; // one in the sender's own batch, one in a worker's
    const removeFaults = [
      sandbox.hooks.faults.add({ connectionIds: [inline], methods: ["POST"], status: 500, times: 1 }),
      sandbox.hooks.faults.add({ connectionIds: [queued], methods: ["POST"], status: 500, times: 1 }),
    ];
    const before = workerRuns(invocations).length;
    const [sender] = clients as [ChatClient];
    sender.send({ action: "sendmessage", text: "despite a hiccup" });
    await Promise.all(clients.map((client) => client.waitFor(isMessage("despite a hiccup"))));
    await flushDeliveries(sandbox, clients);
    for (const remove of removeFaults) remove();

    for (const client of clients) expect(client.framesWhere(isMessage("despite a hiccup"))).toHaveLength(1);
    const resends = workerRuns(invocations)
      .slice(before)
      .map((run) => JSON.parse(run.event.Records[0]?.body ?? "{}") as FanoutBatch)
      .filter((batch) => batch.resend !== undefined);
    expect(resends.flatMap((batch) => batch.recipients.map((r) => r.connectionId)).sort()).toEqual(
      [inline, queued].sort(),
    );
    expect(resends.every((batch) => batch.resend === 1)).toBe(true);
    await Promise.all(clients.map((client) => client.close()));
  });
});

describe("the in-process fan-out queue", () => {
  const batch = (n: number): FanoutBatch => ({
    data: `{"n":${n}}`,
    recipients: [{ connectionId: `c${n}` }],
    expiredAt: 0,
  });
  const ok: Outcome<SQSBatchResponse> = { ok: true, value: { batchItemFailures: [] } };

  function queue(invoke: (event: SQSEvent) => Promise<Outcome<SQSBatchResponse>>, settings = {}) {
    const inFlight = new InFlight();
    const log = { failed: [] as string[], deadLettered: [] as [string, number][] };
    const options: LocalFanoutQueueOptions = {
      workers: 2,
      maxReceives: 3,
      region: "us-east-1",
      accountId: "000000000000",
      invoke,
      inFlight,
      clock: () => 1_800_000_000_000,
      log: {
        workerFailed: (messageId) => log.failed.push(messageId),
        deadLettered: (messageId, receives) => log.deadLettered.push([messageId, receives]),
      },
      ...settings,
    };
    return { queue: new LocalFanoutQueue(options), inFlight, log };
  }

  it("runs at most `workers` invocations at once, and counts batches as in flight until they are sent", async () => {
    let running = 0;
    let most = 0;
    const gates = [deferred(), deferred(), deferred(), deferred(), deferred()];
    const bodies: string[] = [];
    const { queue: fanout, inFlight } = queue(async (event) => {
      running++;
      most = Math.max(most, running);
      const record = event.Records[0];
      bodies.push(record?.body ?? "");
      await gates[bodies.length - 1]?.promise;
      running--;
      return ok;
    });
    for (let n = 0; n < 5; n++) await fanout.enqueue(batch(n));
    expect(fanout.depth).toBe(3);
    let idle = false;
    const quiet = inFlight.idle().then(() => {
      idle = true;
    });
    for (const gate of gates) gate.resolve();
    await quiet;
    expect(idle).toBe(true);
    expect(most).toBe(2);
    expect(bodies.map((body) => (JSON.parse(body) as FanoutBatch).recipients[0]?.connectionId)).toEqual([
      "c0",
      "c1",
      "c2",
      "c3",
      "c4",
    ]);
  });

  it("retries a record the worker reports as failed, then gives it up after maxReceives", async () => {
    const receives: string[] = [];
    const {
      queue: fanout,
      inFlight,
      log,
    } = queue(async (event) => {
      const record = event.Records[0];
      receives.push(record?.attributes.ApproximateReceiveCount ?? "");
      return { ok: true, value: { batchItemFailures: [{ itemIdentifier: record?.messageId ?? "" }] } };
    });
    await fanout.enqueue(batch(1));
    await inFlight.idle();
    expect(receives).toEqual(["1", "2", "3"]);
    expect(log.deadLettered).toEqual([[expect.any(String), 3]]);
    expect(log.failed).toEqual([]);
  });

  it("takes no batches once closed", async () => {
    const { queue: fanout } = queue(async () => ok);
    fanout.close();
    await expect(fanout.enqueue(batch(1))).rejects.toThrow(/closing/);
  });
});
