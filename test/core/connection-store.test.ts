import { describe, expect, it } from "vitest";
import type { ConnectionRecord } from "../../core/connection-table.js";
import { useTables } from "./chat-tables.js";

// The store against a real DynamoDB implementation (dynalite, in-process): paging, filters and keys for real.
const now = 1_795_932_000_000;
const nowSeconds = now / 1000;
const tables = useTables();

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
    expect(await store.get("live")).toBeDefined();
  });
});
