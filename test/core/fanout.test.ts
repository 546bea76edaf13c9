import type { SQSEvent } from "aws-lambda";
import { describe, expect, it, vi } from "vitest";
import { Broadcaster, type Recipient } from "../../core/broadcast.js";
import type { ConnectionsApi } from "../../core/connections-api.js";
import { Fanout } from "../../core/fanout.js";
import { type FanoutBatch, type FanoutQueue, RESEND_DELAYS_SECONDS, splitFirst } from "../../core/fanout-queue.js";
import { createFanoutWorkerHandler } from "../../core/handlers/fanout-worker.js";
import { Logger } from "../../core/logger.js";

const quiet = new Logger({ sink: () => {} });

/** A management API that records deliveries and answers 410 for the ids it is told are gone. */
function fakeConnections(goneIds: string[] = []) {
  const delivered: string[] = [];
  const closed: string[] = [];
  const api: ConnectionsApi = {
    post: async (id) => {
      if (goneIds.includes(id)) throw Object.assign(new Error("gone"), { name: "GoneException" });
      delivered.push(id);
    },
    close: async (id) => {
      closed.push(id);
    },
  };
  return { api, delivered, closed };
}

async function* pagesOf(count: number, pageSize: number): AsyncGenerator<Recipient[]> {
  for (let start = 0; start < count; start += pageSize) {
    yield Array.from({ length: Math.min(pageSize, count - start) }, (_, i) => ({
      connectionId: `c${start + i}`,
      expiresAt: 2e9,
    }));
  }
}

const target = (count: number) => ({
  recipients: pagesOf(count, 300),
  data: '{"type":"message"}',
  expiredAt: 1e9,
  onGone: async () => {},
  onExpired: async () => {},
});

describe("Fanout", () => {
  it("sends a room that fits in one batch itself, without touching the queue", async () => {
    const { api, delivered } = fakeConnections();
    const batches: FanoutBatch[] = [];
    const fanout = new Fanout(new Broadcaster(api, quiet), { enqueue: async (b) => void batches.push(b) }, quiet, {
      batchSize: 1000,
    });
    const result = await fanout.send(target(999));
    expect(delivered).toHaveLength(999);
    expect(batches).toHaveLength(0);
    expect(result).toMatchObject({ delivered: 999, queued: 0 });
  });

  it("sends the first batch inline and queues the rest, each recipient exactly once", async () => {
    const { api, delivered } = fakeConnections();
    const batches: FanoutBatch[] = [];
    const fanout = new Fanout(new Broadcaster(api, quiet), { enqueue: async (b) => void batches.push(b) }, quiet, {
      batchSize: 1000,
    });
    const result = await fanout.send(target(2500));
    expect(delivered).toHaveLength(1000);
    expect(batches.map((b) => b.recipients.length)).toEqual([1000, 500]);
    const everyone = [...delivered, ...batches.flatMap((b) => b.recipients.map((r) => r.connectionId))];
    expect(new Set(everyone).size).toBe(2500);
    expect(result).toMatchObject({ delivered: 1000, queued: 1500, batchesQueued: 2 });
  });

  it("sends the first batch's first page while the rest of it is still being read", async () => {
    const { api, delivered } = fakeConnections();
    let release = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    async function* slowRoom(): AsyncGenerator<Recipient[]> {
      yield* pagesOf(200, 200);
      await gate; // the second read is slow
      yield Array.from({ length: 2000 }, (_, i) => ({ connectionId: `late${i}`, expiresAt: 2e9 }));
    }
    const batches: FanoutBatch[] = [];
    const fanout = new Fanout(new Broadcaster(api, quiet), { enqueue: async (b) => void batches.push(b) }, quiet, {
      batchSize: 1000,
    });
    const sending = fanout.send({ ...target(0), recipients: slowRoom() });
    await vi.waitFor(() => expect(delivered).toHaveLength(200));
    expect(batches).toHaveLength(0);
    release();
    expect(await sending).toMatchObject({ delivered: 1000, queued: 1200, batchesQueued: 2 });
    expect(batches.map((b) => b.recipients.length)).toEqual([1000, 200]);
  });

  it("fails the broadcast, with nothing left unhandled, when reading the room fails", async () => {
    const { api } = fakeConnections();
    async function* failingRoom(): AsyncGenerator<Recipient[]> {
      yield* pagesOf(600, 300);
      throw new Error("ProvisionedThroughputExceededException");
    }
    const queue: FanoutQueue = { enqueue: async () => {} };
    for (const batchSize of [500, 1000]) {
      const fanout = new Fanout(new Broadcaster(api, quiet), queue, quiet, { batchSize });
      await expect(fanout.send({ ...target(0), recipients: failingRoom() })).rejects.toThrow(
        "ProvisionedThroughputExceededException",
      );
    }
  });

  it("lets every send already started finish before a failed read fails the broadcast", async () => {
    let finished = 0;
    const api: ConnectionsApi = {
      post: async () => {
        await new Promise((resolve) => setTimeout(resolve, 20));
        finished++;
      },
      close: async () => {},
    };
    async function* failingRoom(): AsyncGenerator<Recipient[]> {
      yield* pagesOf(5, 5);
      throw new Error("read failed");
    }
    await expect(new Broadcaster(api, quiet).send({ ...target(0), recipients: failingRoom() })).rejects.toThrow(
      "read failed",
    );
    expect(finished).toBe(5);
  });

  it("fails the rest of a split, rather than waiting forever, when its first part is not read to the end", async () => {
    const { first, rest } = splitFirst(pagesOf(900, 300), 600);
    for await (const _page of first) break;
    await expect(rest.next()).rejects.toThrow("not read to its end");
  });

  it("sends a batch inline when the queue refuses it, so nobody misses the message", async () => {
    const { api, delivered } = fakeConnections();
    const failing: FanoutQueue = {
      enqueue: async () => {
        throw new Error("AWS.SimpleQueueService.NonExistentQueue");
      },
    };
    const result = await new Fanout(new Broadcaster(api, quiet), failing, quiet, { batchSize: 100 }).send(target(350));
    expect(new Set(delivered).size).toBe(350);
    expect(result).toMatchObject({ delivered: 350, queued: 0 });
  });
});

/** A management API whose posts to some ids fail with the given error, and that records the others. */
function failingConnections(failures: Record<string, Record<string, unknown>>) {
  const delivered: string[] = [];
  const api: ConnectionsApi = {
    post: async (id) => {
      const failure = failures[id];
      if (failure) throw Object.assign(new Error(String(failure.name)), failure);
      delivered.push(id);
    },
    close: async () => {},
  };
  return { api, delivered };
}

/** A queue that records what it is given, and with what delay. */
function recordingQueue() {
  const queued: { batch: FanoutBatch; delaySeconds?: number }[] = [];
  const queue: FanoutQueue = { enqueue: async (batch, delaySeconds) => void queued.push({ batch, delaySeconds }) };
  return { queue, queued };
}

const noWait = { sleep: async () => {} };

describe("sends that fail for a moment", () => {
  const failures = {
    c1: { name: "InternalServerErrorException", statusCode: 500 },
    c2: { name: "TimeoutError", statusCode: undefined }, // no answer: it may have arrived, ids tell the client
    c3: { name: "LimitExceededException", statusCode: 429 }, // still throttled after the retries here
    c4: { name: "ForbiddenException", statusCode: 403 }, // will not pass: not resent
    c5: { name: "ServiceUnavailable", $fault: "server" }, // as the SDK reports a server fault
  };

  it("are queued on their own, to be made again after a wait; a send refused for good is not", async () => {
    const { api, delivered } = failingConnections(failures);
    const { queue, queued } = recordingQueue();
    const result = await new Fanout(new Broadcaster(api, quiet, noWait), queue, quiet).send({
      ...target(8),
      room: "lobby",
    });
    expect(delivered.sort()).toEqual(["c0", "c6", "c7"]);
    expect(result).toMatchObject({ delivered: 3, failed: 5, resent: 4 });
    expect(queued).toHaveLength(1);
    const [{ batch, delaySeconds }] = queued as [(typeof queued)[number]];
    expect(delaySeconds).toBe(RESEND_DELAYS_SECONDS[0]);
    expect(batch).toMatchObject({ data: '{"type":"message"}', expiredAt: 1e9, room: "lobby", resend: 1 });
    expect(batch.recipients.map((r) => r.connectionId).sort()).toEqual(["c1", "c2", "c3", "c5"]);
  });

  it("are queued again by the worker, each time after a longer wait, until the waits are used up", async () => {
    const { api } = failingConnections(failures);
    const { queue, queued } = recordingQueue();
    const warnings: unknown[] = [];
    const logger = new Logger({ sink: (line) => void warnings.push(JSON.parse(line)) });
    const handler = createFanoutWorkerHandler({
      chat: { forgetGone: async () => {} },
      connections: api,
      logger,
      queue,
    });
    const batch = (resend: number) =>
      JSON.stringify({
        data: "{}",
        expiredAt: 0,
        recipients: [{ connectionId: "c1" }, { connectionId: "c6" }],
        resend,
      });
    const event = (resend: number): SQSEvent => ({
      Records: [{ messageId: `m${resend}`, body: batch(resend) } as SQSEvent["Records"][number]],
    });
    for (let resend = 1; resend <= RESEND_DELAYS_SECONDS.length; resend++) {
      expect(await handler(event(resend))).toEqual({ batchItemFailures: [] });
    }
    expect(queued.map(({ batch, delaySeconds }) => [batch.resend, delaySeconds, batch.recipients])).toEqual([
      [2, RESEND_DELAYS_SECONDS[1], [{ connectionId: "c1" }]],
      [3, RESEND_DELAYS_SECONDS[2], [{ connectionId: "c1" }]],
    ]);
    expect(warnings).toContainEqual(expect.objectContaining({ message: "giving up on sends that kept failing" }));
  });
});

describe("fan-out worker", () => {
  const sqsEvent = (...bodies: string[]): SQSEvent => ({
    Records: bodies.map((body, i) => ({ messageId: `m${i}`, body }) as SQSEvent["Records"][number]),
  });

  it("delivers a queued batch, removes gone connections and closes expired ones", async () => {
    const { api, delivered, closed } = fakeConnections(["c1"]);
    const deleted: string[] = [];
    const handler = createFanoutWorkerHandler({
      chat: { forgetGone: async (id) => void deleted.push(id) },
      connections: api,
      logger: quiet,
    });
    const batch: FanoutBatch = {
      data: "{}",
      expiredAt: 100,
      recipients: [
        { connectionId: "c0", expiresAt: 200 },
        { connectionId: "c1", expiresAt: 200 },
        { connectionId: "c2", expiresAt: 50 },
      ],
    };
    expect(await handler(sqsEvent(JSON.stringify(batch)))).toEqual({ batchItemFailures: [] });
    expect(delivered).toEqual(["c0"]);
    expect(deleted).toEqual(["c1"]);
    expect(closed).toEqual(["c2"]);
  });

  it("forgets gone connections without announcing them when the batch says so, and announces them otherwise", async () => {
    const { api } = fakeConnections(["c1"]);
    const announced: boolean[] = [];
    const handler = createFanoutWorkerHandler({
      chat: { forgetGone: async (_id, announce = true) => void announced.push(announce) },
      connections: api,
      logger: quiet,
    });
    const batch = (extra: Partial<FanoutBatch>) =>
      JSON.stringify({ data: "{}", expiredAt: 0, recipients: [{ connectionId: "c1" }], ...extra });
    await handler(sqsEvent(batch({ silentCleanup: true }), batch({})));
    expect(announced).toEqual([false, true]);
  });

  it("passes a silent clean-up on to the batches it queues", async () => {
    const batches: FanoutBatch[] = [];
    const fanout = new Fanout(
      new Broadcaster(fakeConnections().api, quiet),
      { enqueue: async (b) => void batches.push(b) },
      quiet,
      {
        batchSize: 100,
      },
    );
    await fanout.send({ ...target(250), silentCleanup: true });
    await fanout.send(target(250));
    expect(batches.map((b) => b.silentCleanup)).toEqual([true, true, undefined, undefined]);
  });

  it("does not take a connection gone before a resend for a clean-up that stopped half-way", async () => {
    const { api } = fakeConnections(["c1"]);
    const forgotten: unknown[][] = [];
    const handler = createFanoutWorkerHandler({
      chat: { forgetGone: async (...args) => void forgotten.push(args) },
      connections: api,
      logger: quiet,
    });
    const batch = (extra: Partial<FanoutBatch>) =>
      JSON.stringify({
        data: "{}",
        expiredAt: 0,
        room: "dev",
        recipients: [{ connectionId: "c1", userId: "u1" }],
        ...extra,
      });
    await handler(sqsEvent(batch({}), batch({ resend: 1 })));
    expect(forgotten).toEqual([
      ["c1", true, { room: "dev", userId: "u1" }], // a membership whose record is gone is dropped and announced
      ["c1", true, undefined], // seconds later, $disconnect has most likely done both already
    ]);
  });

  it("drops a malformed batch instead of retrying it forever, and still works on the others", async () => {
    const { api, delivered } = fakeConnections();
    const handler = createFanoutWorkerHandler({
      chat: { forgetGone: async () => {} },
      connections: api,
      logger: quiet,
    });
    const good = JSON.stringify({ data: "{}", expiredAt: 0, recipients: [{ connectionId: "c9" }] });
    expect(await handler(sqsEvent("not json", good))).toEqual({ batchItemFailures: [] });
    expect(delivered).toEqual(["c9"]);
  });
});
