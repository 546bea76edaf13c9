import { PutCommand } from "@aws-sdk/lib-dynamodb";
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

describe("RoomStore memberships and who joined first", () => {
  async function room() {
    let clock = now;
    const { rooms, roomTableName } = await tables.fresh(() => clock);
    const join = (connectionId: string, userId = "ada", ttl = nowSeconds + 7200) =>
      rooms.joinMember({ room: "dev", userId, connectionId, expiresAt: nowSeconds + 3600, ttl });
    const earlier = (connectionId: string, joinedAt: number) =>
      rooms.userJoinedBefore("dev", { userId: "ada", connectionId, joinedAt });
    return { rooms, roomTableName, join, earlier, tick: (ms: number) => (clock += ms) };
  }

  it("keeps when a connection first joined when its membership is written again, and updates the rest", async () => {
    const { rooms, tick } = await room();
    await rooms.addMember({ room: "dev", userId: "ada", connectionId: "c1", expiresAt: 1, ttl: 2e9 });
    tick(5_000);
    const rejoin = { room: "dev", userId: "ada", name: "Ada", connectionId: "c1", expiresAt: 2, ttl: 2e9 };
    expect(await rooms.joinMember(rejoin)).toBe(now);
    expect(await rooms.presence("dev", 10)).toEqual([{ userId: "ada", name: "Ada" }]);
    const [member] = (await rooms.members("dev").next()).value ?? [];
    expect(member).toMatchObject({ connectionId: "c1", expiresAt: 2 });
  });

  it("tells a connection whether another of the user's joined before it, breaking a tie by connection id", async () => {
    const { join, earlier, tick } = await room();
    const first = await join("c2");
    tick(10);
    const second = await join("c1");
    expect(await earlier("c2", first)).toBe(false);
    expect(await earlier("c1", second)).toBe(true);
    // Joined in the same millisecond: the lower connection id is first.
    expect(await earlier("c1", first)).toBe(false);
    expect(await earlier("c3", first)).toBe(true);
  });

  it("counts only the same user's live memberships", async () => {
    const { join, earlier, tick } = await room();
    await join("c0", "bob");
    await join("c1", "ada", nowSeconds - 1); // past its TTL, not yet deleted
    tick(10);
    expect(await earlier("c2", await join("c2"))).toBe(false);
  });

  it("counts a membership written before joinedAt existed as the first", async () => {
    const { rooms, roomTableName, earlier } = await room();
    const old = { room: "dev", sk: "member#ada#c9", connectionId: "c9", userId: "ada", expiresAt: 2e9, ttl: 2e9 };
    await tables.doc.send(new PutCommand({ TableName: roomTableName, Item: old }));
    expect(await rooms.isPresent("dev", "ada")).toBe(true);
    expect(await earlier("c1", now)).toBe(true);
  });
});
