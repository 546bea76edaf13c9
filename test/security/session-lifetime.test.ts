import { randomUUID, sign } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { ErrorFrame } from "../../core/protocol.js";
import { devUserId } from "../../sandbox/dev-auth.js";
import { connectionIdOf, connectionRecords, flushDeliveries, isRefreshed } from "../support/sandbox.js";
import { newRsaKey } from "../support/token-issuer.js";
import { openClient, type TestClient } from "../support/ws-client.js";
import {
  closeAndSettle,
  expectNoTokenInLogs,
  isErrorWith,
  isMessageWith,
  jsonEntries,
  roomItems,
  type SecuritySandbox,
  startSecuritySandbox,
} from "./security-sandbox.js";
import { fakeWallClock, type WallClock } from "./wall-clock.js";

// The token is checked once, at `$connect`, but a socket may live two hours. Through the sandbox, with tokens that
// live a minute and a wall clock that jumps instead of a test that waits: the server refuses and closes a connection
// whose token has expired, `refresh` extends a session for the same user only, and a broadcast closes the silent
// connections it meets past their expiry.

const TTL_SECONDS = 60;

type Client = TestClient & { userId: string; token: string };

describe("token lifetime on an open socket", () => {
  let sandbox: SecuritySandbox;
  let clock: WallClock;
  let opened: Client[] = [];
  beforeAll(async () => {
    clock = fakeWallClock();
    sandbox = await startSecuritySandbox();
  });
  afterEach(async () => {
    await Promise.all(opened.filter((client) => client.isOpen).map((client) => closeAndSettle(sandbox, client)));
    opened = [];
  });
  afterAll(async () => {
    await sandbox.close();
    clock.restore();
  });

  /** A development token for `name`, living `ttlSeconds` from the (possibly moved) wall clock. */
  function tokenFor(name: string, ttlSeconds = TTL_SECONDS) {
    const issuer = sandbox.devIssuer;
    if (!issuer) throw new Error("no development issuer");
    return issuer.sign({ userId: devUserId(name), name, ttlSeconds });
  }

  async function connect(name: string, ttlSeconds = TTL_SECONDS): Promise<Client> {
    const { token } = tokenFor(name, ttlSeconds);
    const client = Object.assign(await openClient(sandbox.urls.webSocket, { token }), {
      userId: devUserId(name),
      token,
    });
    opened.push(client);
    return client;
  }

  async function say(client: Client, text: string): Promise<void> {
    client.send({ action: "sendmessage", text });
    await client.waitFor(isMessageWith(text));
  }

  const recordOf = async (client: Client) =>
    (await connectionRecords(sandbox)).find((record) => record.userId === client.userId);

  it("refuses a message sent after the token's expiry with session_expired, and closes the socket", async () => {
    const ada = await connect("ada");
    const bo = await connect("bo", 3600);
    await say(ada, "before expiry");
    const adaId = connectionIdOf(sandbox, ada.userId);
    const ended = sandbox.hooks.whenEnded(adaId);

    clock.advance((TTL_SECONDS + 1) * 1000);
    ada.send({ action: "sendmessage", text: "after expiry" });

    expect(await ada.waitFor<ErrorFrame>(isErrorWith("session_expired"))).toMatchObject({ type: "error" });
    expect(await ended).toMatchObject({ cause: "management-api" });
    await ada.closed;
    expect(await recordOf(ada)).toBeUndefined();
    expect((await roomItems(sandbox, "member#")).map((item) => item.connectionId)).not.toContain(adaId);
    await flushDeliveries(sandbox, [bo]);
    expect(bo.framesWhere(isMessageWith("after expiry"))).toEqual([]);
  });

  it("extends the session on a refresh with a newer token of the same user", async () => {
    const cy = await connect("cy");
    const dee = await connect("dee", 3600);
    const oldExpiry = (await recordOf(cy))?.expiresAt ?? 0;

    clock.advance(30_000);
    const fresh = tokenFor("cy", TTL_SECONDS); // expires 30 s after the old token
    cy.send({ action: "refresh", token: fresh.token });

    expect(await cy.waitFor(isRefreshed)).toEqual({ type: "refreshed", expiresAt: fresh.expiresAt });
    expect(fresh.expiresAt).toBeGreaterThan(oldExpiry);
    expect(await recordOf(cy)).toMatchObject({ expiresAt: fresh.expiresAt });
    expect(
      (await roomItems(sandbox, "member#")).find((item) => item.userId === cy.userId)?.expiresAt,
      "the lobby membership carries the new expiry, so broadcasts keep sending to it",
    ).toBe(fresh.expiresAt);

    clock.advance(40_000); // past the old token's expiry, before the new one's
    await say(cy, "still here after the old expiry");
    dee.send({ action: "sendmessage", text: "to everyone" });
    await cy.waitFor(isMessageWith("to everyone"));
    expect(cy.isOpen).toBe(true);
    expectNoTokenInLogs(sandbox, [cy.token, fresh.token]);
  });

  it("refuses a refresh with another user's token, leaving the session as it was", async () => {
    const eve = await connect("eve");
    const before = await recordOf(eve);
    const frank = tokenFor("frank", 3600);

    eve.send({ action: "refresh", token: frank.token });

    expect(await eve.waitFor(isErrorWith("invalid_token"))).toMatchObject({ type: "error" });
    expect(eve.framesWhere(isRefreshed)).toEqual([]);
    expect(await recordOf(eve)).toEqual(before);
    // Still eve, still on eve's token: messages carry her id, and expire with her token.
    eve.send({ action: "sendmessage", text: "who am I" });
    expect(await eve.waitFor(isMessageWith("who am I"))).toMatchObject({ sender: { userId: eve.userId } });
    clock.advance((TTL_SECONDS + 1) * 1000);
    eve.send({ action: "sendmessage", text: "too late" });
    await eve.waitFor(isErrorWith("session_expired"));
    await eve.closed;
    expectNoTokenInLogs(sandbox, [eve.token, frank.token]);
  });

  it.each<[string, (name: string) => string]>([
    ["an expired token", (name) => tokenFor(name, -10).token],
    [
      "a token signed by a key outside the JWKS",
      (name) => {
        const [header, payload] = tokenFor(name, 3600).token.split(".");
        const input = `${header}.${payload}`;
        return `${input}.${sign("sha256", Buffer.from(input), newRsaKey()).toString("base64url")}`;
      },
    ],
    ["a token with an unknown kid", (name) => devIssuerToken(name, { kid: `d-${randomUUID()}` })],
    ["something that is not a token", () => "not-a-token"],
  ])("refuses a refresh with %s, leaving the session as it was", async (_label, make) => {
    const name = `gus-${randomUUID().slice(0, 8)}`;
    const gus = await connect(name);
    const before = await recordOf(gus);
    const token = make(name);
    const mark = sandbox.jsonLines.length;

    gus.send({ action: "refresh", token });

    await gus.waitFor(isErrorWith("invalid_token"));
    expect(await recordOf(gus)).toEqual(before);
    expect(gus.isOpen).toBe(true);
    const refused = jsonEntries(sandbox)
      .slice(mark)
      .filter((entry) => entry.message === "refresh refused");
    expect(refused).toHaveLength(1);
    expectNoTokenInLogs(sandbox, [token, gus.token]);
  });

  it("accepts a refresh that arrives just after expiry: a valid token of the same user is proof enough", async () => {
    const hal = await connect("hal");
    clock.advance((TTL_SECONDS + 1) * 1000);
    const fresh = tokenFor("hal", TTL_SECONDS);

    hal.send({ action: "refresh", token: fresh.token });

    expect(await hal.waitFor(isRefreshed)).toEqual({ type: "refreshed", expiresAt: fresh.expiresAt });
    await say(hal, "revived");
  });

  it("closes a silent connection past its expiry when the next broadcast meets it, without sending it the message", async () => {
    const ivy = await connect("ivy");
    const jon = await connect("jon", 3600);
    const ivyId = connectionIdOf(sandbox, ivy.userId);
    const ended = sandbox.hooks.whenEnded(ivyId);

    clock.advance((TTL_SECONDS + 1) * 1000);
    jon.send({ action: "sendmessage", text: "anyone there" });

    await jon.waitFor(isMessageWith("anyone there"));
    expect(await ended).toMatchObject({ cause: "management-api" });
    await ivy.closed;
    expect(ivy.framesWhere(isMessageWith("anyone there"))).toEqual([]);
    expect(await recordOf(ivy)).toBeUndefined();
    const broadcast = jsonEntries(sandbox).find(
      (entry) => entry.message === "message broadcast" && entry.userId === jon.userId,
    );
    expect(broadcast).toMatchObject({ delivered: 1, expired: 1 });
  });

  /** A development token for `name` with header fields changed (the signature stays valid for the new header). */
  function devIssuerToken(name: string, header: Record<string, unknown>): string {
    const issuer = sandbox.devIssuer;
    if (!issuer) throw new Error("no development issuer");
    return issuer.sign({ userId: devUserId(name), name, ttlSeconds: 3600, header }).token;
  }
});
