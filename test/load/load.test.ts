import { describe, expect, it } from "vitest";
import { DeliveryLedger } from "../../loadtest/ledger.js";
import { DEFAULTS, parseOptions } from "../../loadtest/options.js";
import { runLoadTest } from "../../loadtest/run.js";

// The load test at a size that fits in `npm test`: the same program as `npm run loadtest`, sandbox in a child
// process, judged on exactly-once delivery and per-sender order only (no timing thresholds on a shared machine).
describe("load test", () => {
  it("delivers every message exactly once to 100 clients, each sender's messages in the order sent", {
    timeout: 180_000,
  }, async () => {
    const result = await runLoadTest({ ...DEFAULTS, clients: 100, senders: 10, messages: 5, phaseTimeoutMs: 60_000 });

    expect(result.failures).toEqual([]);
    expect(result).toMatchObject({
      passed: true,
      connectionsHeld: 100,
      connectionsAtGateway: 100,
      messagesSent: 50,
      deliveriesExpected: 5000,
      deliveriesSeen: 5000,
      duplicates: 0,
      losses: 0,
      misorderedSenders: 0,
      inconsistentIds: 0,
      otherFrames: {},
      sandboxWarnings: 0,
    });
  });

  it("reads its flags and refuses what it does not know, naming it", () => {
    expect(parseOptions(["--clients", "200", "--senders=20", "--messages", "3", "--json", "out.json"])).toEqual({
      help: false,
      options: { ...DEFAULTS, clients: 200, senders: 20, messages: 3, jsonFile: "out.json" },
    });
    expect(parseOptions(["--help"])).toEqual({ help: true });
    expect(() => parseOptions(["--clients", "0"])).toThrow(/--clients must be a whole number from 1 to 5000/);
    expect(() => parseOptions(["--senders", "20", "--clients", "10"])).toThrow(/--senders \(20\) cannot be more/);
    expect(() => parseOptions(["--bogus"])).toThrow(/unknown option --bogus/);
    expect(() => parseOptions(["--json"])).toThrow(/--json needs a value/);
  });

  it("judges: counts losses, duplicates, misordered senders, split ids and stray frames", () => {
    // 2 clients, 2 senders × 2 messages.
    const ledger = new DeliveryLedger(2, 2, 2);
    const frame = (sender: number, seq: number, id: number) => ({
      type: "message",
      id: String(id).padStart(12, "0"),
      text: DeliveryLedger.text(sender, seq),
    });
    for (const [sender, seq] of [
      [0, 0],
      [0, 1],
      [1, 0],
      [1, 1],
    ] as const) {
      ledger.recordSend(sender, seq, 0);
    }
    // Sender 0 in order (ids 1, 2); sender 1 out of order (its second message got the smaller id).
    expect(ledger.recordFrame(0, frame(0, 0, 1), 5)).toEqual({ sender: 0, seq: 0, everywhere: false });
    expect(ledger.recordFrame(1, frame(0, 0, 1), 6)).toEqual({ sender: 0, seq: 0, everywhere: true });
    ledger.recordFrame(0, frame(0, 1, 2), 7);
    ledger.recordFrame(0, frame(1, 0, 4), 8);
    ledger.recordFrame(0, frame(1, 1, 3), 9);
    ledger.recordFrame(1, frame(1, 1, 3), 9);
    ledger.recordFrame(1, frame(1, 1, 3), 10); // again
    ledger.recordFrame(1, frame(1, 0, 5), 11); // another id for the same message, and after its successor
    ledger.recordFrame(1, { type: "error", code: "rate_limited" }, 12);
    // Client 1 never got sender 0's second message.

    expect(ledger.complete).toBe(false);
    expect(ledger.expected - ledger.seen).toBe(1);
    expect(ledger.duplicates).toBe(1);
    expect(ledger.inconsistentIds).toBe(1);
    expect(ledger.misorderedSenders()).toBe(1);
    expect(ledger.arrivalInversions).toBe(1);
    expect(Object.fromEntries(ledger.otherFrames)).toEqual({ "error:rate_limited": 1 });
    expect(ledger.latencySummary()).toEqual({ p50: 8, p99: 11, max: 11 });
  });
});
