import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ConnectionRecord } from "../../core/connection-table.js";
import { startTables } from "./chat-tables.js";

// The store against a real DynamoDB implementation (dynalite, in-process): paging, filters and keys for real.
const now = 1_795_932_000_000;
const nowSeconds = now / 1000;
let tables: Awaited<ReturnType<typeof startTables>>;

beforeAll(async () => {
  tables = await startTables();
});
afterAll(() => tables.close());

const freshStore = async () => (await tables.fresh(() => now)).connections;

const record = (connectionId: string, overrides: Partial<ConnectionRecord> = {}): ConnectionRecord => ({
  connectionId,
  userId: "u-1",
  tenantId: "public",
  connectedAt: now,
  expiresAt: nowSeconds + 3600,
  ttl: nowSeconds + 7500,
  ...overrides,
});

async function allIds(pages: AsyncIterable<{ connectionId: string }[]>) {
  const ids: string[] = [];
  const sizes: number[] = [];
  for await (const page of pages) {
    sizes.push(page.length);
    ids.push(...page.map((r) => r.connectionId));
  }
  return { ids: ids.sort(), sizes };
}

describe("ConnectionStore on a real DynamoDB (dynalite)", () => {
  it("puts, gets and deletes a record", async () => {
    const store = await freshStore();
    await store.put(record("c1", { name: "Ada" }));
    expect(await store.get("c1")).toEqual(record("c1", { name: "Ada" }));
    await store.delete("c1");
    expect(await store.get("c1")).toBeUndefined();
  });

  it("treats a record past its TTL as gone, since DynamoDB deletes lazily", async () => {
    const store = await freshStore();
    await store.put(record("stale", { ttl: nowSeconds - 1 }));
    await store.put(record("live"));
    expect(await store.get("stale")).toBeUndefined();
    expect((await allIds(store.scan())).ids).toEqual(["live"]);
  });

  it("reads every connection across many Scan pages, one page at a time", async () => {
    const store = await freshStore();
    const ids = Array.from({ length: 55 }, (_, i) => `c${String(i).padStart(2, "0")}`);
    await Promise.all(ids.map((id) => store.put(record(id))));
    const { ids: seen, sizes } = await allIds(store.scan({ pageSize: 10 }));
    expect(seen).toEqual(ids);
    expect(sizes.length).toBeGreaterThanOrEqual(6);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(10);
  });

  it("splits the table into disjoint parallel-scan segments that together cover it", async () => {
    const store = await freshStore();
    const ids = Array.from({ length: 40 }, (_, i) => `seg-${i}`);
    await Promise.all(ids.map((id) => store.put(record(id))));
    const segments = await Promise.all(
      [0, 1, 2].map(async (index) => (await allIds(store.scan({ segment: { index, total: 3 } }))).ids),
    );
    expect(segments.flat().sort()).toEqual([...ids].sort());
    expect(new Set(segments.flat()).size).toBe(ids.length);
  });
});
