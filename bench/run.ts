import { authorizerSection } from "./authorizer.js";
import { coldstartSection } from "./coldstart.js";
import type { BenchConfig } from "./config.js";
import { type RoomTableFixture, startRoomTable } from "./dynamo-fixture.js";
import { e2eSection } from "./e2e.js";
import { fanoutSection } from "./fanout.js";
import { type ManagementStubProcess, startManagementStub } from "./management-stub-process.js";
import { type BenchRow, Section } from "./report.js";
import { workersSection } from "./workers.js";

export interface BenchOutcome {
  rows: BenchRow[];
  /** Sections that failed, with why; the others still ran. */
  failures: { section: Section; error: string }[];
}

/**
 * Runs the configured sections one after another (never two at once: they would share the CPU), each on its own
 * processes, which are stopped when the section ends, fails, or this process exits.
 */
export async function runBench(config: BenchConfig, progress: (line: string) => void): Promise<BenchOutcome> {
  const rows: BenchRow[] = [];
  const failures: BenchOutcome["failures"] = [];
  const wanted = (section: Section) => config.sections.includes(section);
  const attempt = async (section: Section, run: () => Promise<BenchRow[]>) => {
    if (!wanted(section)) return;
    try {
      rows.push(...(await run()));
    } catch (err) {
      failures.push({ section, error: err instanceof Error ? err.message : String(err) });
      progress(`${section}: FAILED: ${err instanceof Error ? err.message : String(err)}`);
    }
  };

  await attempt(Section.Coldstart, () => coldstartSection(config.coldstart, progress));
  await attempt(Section.Authorizer, () => authorizerSection(config.authorizer, progress));

  if (wanted(Section.Fanout) || wanted(Section.Workers)) {
    let stub: ManagementStubProcess | undefined;
    let table: RoomTableFixture | undefined;
    try {
      progress(`starting the management API stub (${config.stub.latencyMs} ms, ${config.stub.concurrency} at once)`);
      stub = await startManagementStub(config.stub);
      const running = stub;
      if (wanted(Section.Fanout)) {
        progress(`starting ${config.dynamo}`);
        table = await startRoomTable(config.dynamo);
        const fixture = table;
        await attempt(Section.Fanout, () => fanoutSection(fixture, running, config.fanout, progress));
        await table.close();
        table = undefined;
      }
      await attempt(Section.Workers, () => workersSection(running, config.workers, progress));
    } catch (err) {
      for (const section of [Section.Fanout, Section.Workers]) {
        if (wanted(section) && !rows.some((row) => row.section === section)) {
          failures.push({ section, error: err instanceof Error ? err.message : String(err) });
        }
      }
    } finally {
      await table?.close();
      await stub?.close();
    }
  }

  await attempt(Section.E2e, () => e2eSection(config.e2e, progress));
  return { rows, failures };
}
