import { readFile, rm } from "node:fs/promises";
import { request } from "node:http";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ALL_SECTIONS, type BenchConfig, parseCliOptions, QUICK } from "../../bench/config.js";
import { createManagementStub } from "../../bench/management-stub.js";
import { type BenchRow, figuresOf, formatTable, writeJson } from "../../bench/report.js";
import { runBench } from "../../bench/run.js";

/** Every section at the smallest sizes that still exercise it: checks the harness, not the product's speed. */
const TINY: BenchConfig = {
  ...QUICK,
  name: "tiny",
  fanout: {
    sizes: [300],
    sequentialSizes: [300],
    leanSizes: [300],
    sequentialMaxSeconds: 0.2,
    warmUpRecipients: 50,
    warmUpSeconds: 0,
    runTimeoutSeconds: 60,
  },
  workers: {
    ...QUICK.workers,
    recipients: 400,
    batchSize: 100,
    workerCounts: [1, 2],
    warmUpSends: 50,
    runTimeoutSeconds: 60,
  },
  authorizer: { rounds: 1, sliceMs: 50 },
  coldstart: { runs: 1 },
  e2e: { clients: 5, messages: 3 },
};

/** Units a numeric figure's name may end with; counts are allowed by name. */
const UNIT = /(seconds|Seconds|MB|PerSec|PerSend|PerOp|bytes|Bytes|Ms)$/;
const COUNTS = new Set(["recipients", "messages", "deliveries", "meanInFlight"]);

describe("bench harness", () => {
  const jsonFile = join(tmpdir(), `chat-bench-test-${process.pid}.json`);
  afterAll(() => rm(jsonFile, { force: true }));

  it("runs every section at a tiny size and writes well-formed rows", { timeout: 240_000 }, async () => {
    const { rows, failures } = await runBench(TINY, () => {});
    expect(failures).toEqual([]);
    expect(new Set(rows.map((row) => row.section))).toEqual(new Set(ALL_SECTIONS));
    for (const row of rows) {
      expect(typeof row.variant).toBe("string");
      expect(typeof row.case).toBe("string");
      expect(Number.isFinite(row.ratio), `${row.section}/${row.variant}/${row.case} ratio ${row.ratio}`).toBe(true);
      for (const [key, value] of figuresOf(row)) {
        if (typeof value === "number") {
          expect(UNIT.test(key) || COUNTS.has(key), `figure ${key} names no unit`).toBe(true);
          expect(Number.isFinite(value), `${key} = ${value}`).toBe(true);
        }
      }
      if (row.target !== undefined) expect(typeof row.targetMet).toBe("boolean");
    }
    // Each section's product row is there, and every fan-out comparison ran.
    for (const section of ALL_SECTIONS)
      expect(rows.some((row) => row.section === section && row.variant === "product")).toBe(true);
    expect(rows.filter((row) => row.section === "fanout").map((row) => row.variant)).toEqual([
      "product",
      "sdk-client",
      "aws-sample",
      "bare-http",
      "sequential",
    ]);
    // Heap figures come from a broadcast of their own, which a run cut short (extrapolated) skips.
    for (const row of rows.filter((row) => row.section === "fanout")) {
      const cutShort = String(row.note ?? "").startsWith("extrapolated");
      expect(typeof row.liveHeapMB, `${row.variant} liveHeapMB`).toBe(cutShort ? "undefined" : "number");
      expect(typeof row.peakHeapMB, `${row.variant} peakHeapMB`).toBe(cutShort ? "undefined" : "number");
    }
    expect(
      rows.find((row) => row.section === "coldstart" && row.case === "authorizer" && row.variant === "product"),
    ).toMatchObject({
      forbidden: expect.any(String),
    });

    await writeJson(jsonFile, rows);
    const written = JSON.parse(await readFile(jsonFile, "utf8")) as BenchRow[];
    expect(written).toEqual(rows);
    expect(formatTable(rows).split("\n").length).toBeGreaterThan(rows.length);
  });
});

describe("management API stub", () => {
  it("serves at most `concurrency` calls at once and queues the rest", async () => {
    const stub = createManagementStub({ latencyMs: 10, concurrency: 5, stage: "s" });
    const port = await stub.listen();
    try {
      const post = (id: number) =>
        new Promise<number>((resolve, reject) => {
          const req = request({ host: "127.0.0.1", port, path: `/s/@connections/c${id}`, method: "POST" }, (res) => {
            res.resume();
            res.once("end", () => resolve(res.statusCode ?? 0));
          });
          req.once("error", reject);
          req.end("{}");
        });
      const started = performance.now();
      const statuses = await Promise.all(Array.from({ length: 20 }, (_, i) => post(i)));
      expect(statuses.every((status) => status === 200)).toBe(true);
      expect(stub.stats).toMatchObject({ posts: 20, maxActive: 5 });
      expect(stub.stats.maxQueued).toBeGreaterThan(0);
      // Four rounds of five: the floor is 4 × 10 ms.
      expect(performance.now() - started).toBeGreaterThanOrEqual(39);
    } finally {
      await stub.close();
    }
  });
});

describe("management API stub over raw TCP", () => {
  it("answers requests that arrive in pieces, deletes with 204, other paths with 403, and no length with 411", async () => {
    const stub = createManagementStub({ latencyMs: 1, stage: "s" });
    const port = await stub.listen();
    try {
      const socket = connect(port, "127.0.0.1");
      socket.setEncoding("latin1");
      let received = "";
      socket.on("data", (chunk: string) => {
        received += chunk;
      });
      const until = async (answers: number) => {
        while ((received.match(/HTTP\/1\.1 /g) ?? []).length < answers) await new Promise((r) => setTimeout(r, 5));
      };
      const post = 'POST /s/@connections/a%3D HTTP/1.1\r\nhost: x\r\ncontent-length: 7\r\n\r\n{"a":1}';
      for (const piece of [post.slice(0, 10), post.slice(10, 60), post.slice(60)]) {
        socket.write(piece);
        await new Promise((r) => setTimeout(r, 5));
      }
      await until(1);
      socket.write("DELETE /s/@connections/a%3D HTTP/1.1\r\nhost: x\r\n\r\n");
      await until(2);
      socket.write("POST /other HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n\r\n{}");
      await until(3);
      socket.write("POST /s/@connections/b HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n");
      await until(4);
      socket.destroy();
      expect(received.match(/HTTP\/1\.1 \d+/g)).toEqual([
        "HTTP/1.1 200",
        "HTTP/1.1 204",
        "HTTP/1.1 403",
        "HTTP/1.1 411",
      ]);
      expect(received).toContain("x-amzn-ErrorType: ForbiddenException");
      expect(stub.stats).toMatchObject({ posts: 1, deletes: 1 });
    } finally {
      await stub.close();
    }
  });
});

describe("command line", () => {
  it("reads --quick, --json, --only and the stub settings", () => {
    const options = parseCliOptions(["--quick", "--json", "out.json", "--only", "fanout,e2e", "--latency-ms", "5"]);
    expect(options.config.name).toBe("quick");
    expect(options.jsonFile).toBe("out.json");
    expect(options.config.sections).toEqual(["fanout", "e2e"]);
    expect(options.config.stub).toEqual({ latencyMs: 5, concurrency: 200 });
  });

  it("refuses what it does not know, naming it", () => {
    expect(() => parseCliOptions(["--only", "nope"])).toThrow(/nope/);
    expect(() => parseCliOptions(["--json"])).toThrow(/--json needs a value/);
    expect(() => parseCliOptions(["--fast"])).toThrow(/--fast/);
  });
});
