import { withChild } from "./child-process.js";
import type { ChatEndpoint } from "./e2e-client.js";
import { measureLatency } from "./e2e-client.js";
import { type BenchRow, Section } from "./report.js";
import { percentile, round } from "./stats.js";

export interface E2eOptions {
  clients: number;
  messages: number;
}

/**
 * Section 5: message latency from send to receipt across `clients` signed-in sockets, in the sandbox (the product)
 * and through a bare `ws` relay (the floor). ratio = p99 ÷ the relay's p99. No target: the sandbox emulates API
 * Gateway in one Node process, so its figures say where the time goes, not what AWS will do.
 */
export async function e2eSection(options: E2eOptions, progress: (line: string) => void): Promise<BenchRow[]> {
  const runs: { variant: string; service: "e2e-sandbox" | "ws-relay" }[] = [
    { variant: "product", service: "e2e-sandbox" },
    { variant: "ws-relay", service: "ws-relay" },
  ];
  const samples = [];
  for (const { variant, service } of runs) {
    progress(`e2e: ${variant}, ${options.clients} clients, ${options.messages} messages`);
    const sample = await withChild(service, {}, async (child) => {
      const endpoint = await child.call<ChatEndpoint>("info", null, 10_000);
      return measureLatency(endpoint, { ...options, warmUpMessages: 3, messageTimeoutMs: 15_000 });
    });
    samples.push({ variant, sample });
  }
  const floorP99 = percentile(samples[samples.length - 1]?.sample.latenciesMs ?? [], 99);
  return samples.map(({ variant, sample }) => {
    const p99 = percentile(sample.latenciesMs, 99);
    return {
      section: Section.E2e,
      variant,
      case: `${options.clients} clients`,
      messages: sample.messages,
      deliveries: sample.latenciesMs.length,
      p50Ms: round(percentile(sample.latenciesMs, 50), 1),
      p99Ms: round(p99, 1),
      maxMs: round(Math.max(...sample.latenciesMs), 1),
      messagesPerSec: round(sample.messages / sample.seconds, 1),
      ratio: round(p99 / floorP99),
    };
  });
}
