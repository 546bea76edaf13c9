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

  it("leaves presence on full pages: a join to a room of 260 reads its version, then its members once", async () => {
    const rooms = await roomWith(260);
    const send = vi.spyOn(tables.doc, "send");
    try {
      expect(await rooms.presence("big", 500)).toEqual({ users: [{ userId: "u-1" }], version: 0 });
      expect(send).toHaveBeenCalledTimes(2);
    } finally {
      send.mockRestore();
    }
  });
});

describe("RoomStore presence versions", () => {
  it("gives each room its own increasing versions, apart from message ids, and presence reads the last given", async () => {
    const { rooms } = await tables.fresh(() => now);
    await rooms.joinMember({ room: "dev", userId: "ada", connectionId: "c1", expiresAt: nowSeconds + 60, ttl: 2e9 });
    expect(await rooms.presence("dev", 10)).toEqual({ users: [{ userId: "ada" }], version: 0 });
    expect(await rooms.nextPresenceVersion("dev")).toBe(1);
    expect(await rooms.nextPresenceVersion("dev")).toBe(2);
    expect(await rooms.nextPresenceVersion("ops")).toBe(1);
    expect(await rooms.nextMessageId("dev")).toBe("000000000001");
    expect(await rooms.presence("dev", 10)).toEqual({ users: [{ userId: "ada" }], version: 2 });
    // The counters are not members: a broadcast never sends to them.
    expect((await pagesOf(rooms.members("dev"))).ids).toEqual(["c1"]);
  });
});

describe("RoomStore memberships", () => {
  async function room() {
    let clock = now;
    const { rooms } = await tables.fresh(() => clock);
    const join = (connectionId: string, userId = "ada", ttl = nowSeconds + 7200) =>
      rooms.joinMember({ room: "dev", userId, connectionId, expiresAt: nowSeconds + 3600, ttl });
    const joinedAts = async (userId = "ada") =>
      Object.fromEntries((await rooms.membershipsOf("dev", userId)).map((m) => [m.connectionId, m.joinedAt]));
    return { rooms, join, joinedAts, tick: (ms: number) => (clock += ms) };
  }

  it("sets when a connection joined at its first join, keeps it at the next, and updates the rest", async () => {
    const { rooms, joinedAts, tick } = await room();
    await rooms.addMember({ room: "dev", userId: "ada", connectionId: "c1", expiresAt: 1, ttl: 2e9 });
    expect(await joinedAts()).toEqual({ c1: undefined }); // in the lobby since $connect, not joined yet
    tick(5_000);
    const rejoin = { room: "dev", userId: "ada", name: "Ada", connectionId: "c1", expiresAt: 2, ttl: 2e9 };
    expect(await rooms.joinMember(rejoin)).toBe(now + 5_000);
    tick(5_000);
    expect(await rooms.joinMember({ ...rejoin, expiresAt: 3 })).toBe(now + 5_000);
    expect(await joinedAts()).toEqual({ c1: now + 5_000 });
    expect((await rooms.presence("dev", 10)).users).toEqual([{ userId: "ada", name: "Ada" }]);
    const [member] = (await rooms.members("dev").next()).value ?? [];
    expect(member).toMatchObject({ connectionId: "c1", expiresAt: 3 });
  });

  it("lists one user's live memberships only", async () => {
    const { rooms, join, joinedAts, tick } = await room();
    await join("c0", "bob");
    await join("c1", "ada", nowSeconds - 1); // past its TTL, not yet deleted
    tick(10);
    await join("c2");
    expect(await joinedAts()).toEqual({ c2: now + 10 });
    expect(await joinedAts("bob")).toEqual({ c0: now });
    await rooms.removeMember("dev", "ada", "c2");
    expect(await rooms.isPresent("dev", "ada")).toBe(false);
    expect(await rooms.isPresent("dev", "bob")).toBe(true);
  });

  it("reads the room strongly consistently, so a join and a broadcast see each other's writes", async () => {
    const { rooms, join } = await room();
    await join("c1");
    const send = vi.spyOn(tables.doc, "send");
    try {
      await rooms.members("dev").next();
      await rooms.presence("dev", 10);
      await rooms.isPresent("dev", "ada");
      await rooms.membershipsOf("dev", "ada");
      await rooms.history("dev", { limit: 10 });
      const queries = send.mock.calls.map(([command]) => command.input as { ConsistentRead?: boolean });
      expect(queries).toHaveLength(6); // presence reads its version, then its members
      expect(queries.every((input) => input.ConsistentRead === true)).toBe(true);
    } finally {
      send.mockRestore();
    }
  });
});
