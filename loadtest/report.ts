import type { LoadTestResult } from "./run.js";

const n = (value: number) => value.toLocaleString("en");
const ms = (value: number) => (Number.isFinite(value) ? `${value.toFixed(1)} ms` : "n/a");
const s = (value: number) => `${value.toFixed(1)} s`;

/** The summary as aligned lines, for people. */
export function formatReport(result: LoadTestResult): string {
  const other = Object.entries(result.otherFrames);
  const rows: [string, string][] = [
    [
      "connections held",
      `${n(result.connectionsHeld)} / ${n(result.clients)} (gateway: ${n(result.connectionsAtGateway)})`,
    ],
    ["messages sent", `${n(result.messagesSent)} (${n(result.senders)} senders × ${n(result.messagesPerSender)})`],
    ["deliveries expected", n(result.deliveriesExpected)],
    ["deliveries seen", n(result.deliveriesSeen)],
    ["duplicates", n(result.duplicates)],
    ["losses", n(result.losses)],
    ["misordered senders", `${n(result.misorderedSenders)} (a sender's ids not increasing in send order)`],
    ["inconsistent ids", `${n(result.inconsistentIds)} (one message, two ids)`],
    ["arrival inversions", `${n(result.arrivalInversions)} (informational: clients order by id)`],
    ["other frames", other.length ? other.map(([kind, count]) => `${kind} ×${n(count)}`).join(", ") : "none"],
    ["sandbox warnings", n(result.sandboxWarnings)],
    ["pace", `at most ${n(result.inFlight)} broadcasts reaching clients at once`],
    ["latency", `p50 ${ms(result.latencyMs.p50)}, p99 ${ms(result.latencyMs.p99)}, max ${ms(result.latencyMs.max)}`],
    [
      "time",
      `start ${s(result.seconds.start)}, connect ${s(result.seconds.connect)}, messages ${s(result.seconds.messages)} ` +
        `(${n(Math.round(result.deliveriesPerSecond))} deliveries/s), settle ${s(result.seconds.settle)}, ` +
        `total ${s(result.seconds.total)}`,
    ],
  ];
  const width = Math.max(...rows.map(([label]) => label.length));
  const lines = rows.map(([label, value]) => `${label.padEnd(width)}  ${value}`);
  if (result.sandboxStderr.length) {
    lines.push("", "the sandbox process's stderr (first lines):", ...result.sandboxStderr.map((line) => `  ${line}`));
  }
  lines.push("", result.passed ? "PASS" : `FAIL\n${result.failures.map((failure) => `  - ${failure}`).join("\n")}`);
  return lines.join("\n");
}
