import { describe, expect, it, vi } from "vitest";
import { useTables } from "./chat-tables.js";

// Room membership as a broadcast reads it, against a real DynamoDB implementation (dynalite, in-process).
const now = 1_795_932_000_000;
const nowSeconds = now / 1000;
const tables = useTables();

async function roomWith(members: number) {
  const { rooms } = await tables.fresh(() => now);
  for (let i = 0; i < members; i++) {
    await rooms.addMember({
      room: "big",
      userId: "u-1",
      connectionId: `c-${String(i).padStart(4, "0")}`,
      expiresAt: nowSeconds + 3600,
      ttl: i === 3 ? nowSeconds - 1 : nowSeconds + 7200, // one record past its TTL, not yet deleted
    });
  }
  return rooms;
}

async function pagesOf(pages: AsyncIterable<{ connectionId: string }[]>) {
  const sizes: number[] = [];
  const ids: string[] = [];
  for await (const page of pages) {
    sizes.push(page.length);
    ids.push(...page.map((member) => member.connectionId));
  }
  return { sizes, ids };
}

describe("RoomStore.members", () => {
  it("reads a small first page, so a broadcast starts sending soon, then full pages; each live member once", async () => {
    const rooms = await roomWith(451);
    const { sizes, ids } = await pagesOf(rooms.members("big", 150, 50));
    // DynamoDB applies Limit before the TTL filter: the expired record only makes its page one short.
    expect(sizes).toEqual([49, 150, 150, 101]);
    expect(new Set(ids).size).toBe(450);
    expect(ids).not.toContain("c-0003");
  });

  it("starts with at most 200 members by default, enough for the broadcast's 200 sends at once", async () => {
    const rooms = await roomWith(260);
    const { sizes } = await pagesOf(rooms.members("big"));
    expect(sizes).toEqual([199, 60]);
  });

  it("leaves presence on full pages: a join to a room of 260 reads it once", async () => {
    const rooms = await roomWith(260);
    const send = vi.spyOn(tables.doc, "send");
    try {
      expect(await rooms.presence("big", 500)).toEqual([{ userId: "u-1" }]);
      expect(send).toHaveBeenCalledTimes(1);
    } finally {
      send.mockRestore();
    }
  });
});
