import type { Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFailed } from "vitest";
import { EnvVar } from "../../core/env.js";
import type { MessageFrame } from "../../core/protocol.js";
import { connectAs, startTestSandbox, type TestSandbox } from "../support/sandbox.js";
import type { TestClient } from "../support/ws-client.js";
import {
  buildPage,
  type ChatUser,
  chromiumPerFile,
  joinRoom,
  onlineNames,
  recordStates,
  saveScreenshot,
  selectors,
  selectRoom,
  send,
  shownMessages,
  shownTexts,
  signIn,
  unreadCount,
  waitForJoined,
  waitForMessage,
  waitForState,
} from "./browser.js";

/**
 * Rooms, history and presence in Chromium against the real sandbox: what two people see when they make and share
 * rooms, the history a joiner gets and can scroll back through, who is online, and the guarantee that a page whose
 * socket drops ends up with every message, in order, once.
 */

const chromium = chromiumPerFile();
let sandbox: TestSandbox;
let disposePage: () => Promise<void>;
const users: ChatUser[] = [];
const clients: TestClient[] = [];
const WIDE = { width: 860, height: 600 };

beforeAll(async () => {
  const page = await buildPage();
  disposePage = page.dispose;
  sandbox = await startTestSandbox({
    webRoot: page.webRoot,
    logLevel: "warn",
    // Seeding history through the socket sends far faster than people type.
    handlerEnv: { [EnvVar.MessageBurst]: "10000", [EnvVar.MessagesPerSecond]: "10000" },
  });
});

afterAll(async () => {
  await sandbox?.close();
  await disposePage?.();
});

afterEach(async () => {
  await Promise.all(users.splice(0).map((user) => user.context.close()));
  await Promise.all(clients.splice(0).map((client) => client.close()));
});

async function user(name: string, viewport = WIDE): Promise<ChatUser> {
  const signedIn = await signIn(chromium(), sandbox.urls.page, name, { viewport });
  users.push(signedIn);
  return signedIn;
}

/** A raw socket client (no page), signed in as `name`, in `room`. */
async function rawClient(name: string, room: string): Promise<TestClient & { userId: string }> {
  const client = await connectAs(sandbox, name);
  clients.push(client);
  client.send({ action: "join", room });
  await client.waitFor((frame) => (frame as { type?: string; room?: string }).type === "presence");
  return client;
}

/** Sends a message from a raw client and waits for its echo, so the next one gets the next id. */
async function say(client: TestClient, room: string, text: string): Promise<MessageFrame> {
  client.send({ action: "sendmessage", room, text });
  return client.waitFor<MessageFrame>((frame) => {
    const message = frame as Partial<MessageFrame>;
    return message.type === "message" && message.room === room && message.text === text;
  }, 10_000);
}

const connectionOf = (userId: string) =>
  sandbox.hooks.connections().find((connection) => connection.principalId === userId);

function showLogOnFailure() {
  const start = sandbox.logLines.length;
  onTestFailed(() => console.log(`sandbox log:\n${sandbox.logLines.slice(start).join("\n")}`));
}

/** Message ids of the room on screen are strictly increasing: in order, each once. */
async function expectOrderedWithoutDuplicates(page: Page): Promise<void> {
  const ids = (await shownMessages(page)).map((message) => message.id);
  expect(ids.length).toBeGreaterThan(0);
  for (let i = 1; i < ids.length; i++) expect((ids[i - 1] ?? "") < (ids[i] ?? "")).toBe(true);
}

describe("rooms", () => {
  it("a room made in one window and joined in the other keeps its messages to itself; unread badges count and clear", async () => {
    showLogOnFailure();
    const [alice, bob] = await Promise.all([user("Alice"), user("Bob")]);

    await joinRoom(alice.page, "design");
    expect(await alice.page.locator(selectors.roomTitle).textContent()).toBe("#design");
    await joinRoom(bob.page, "design");
    // Both lists: the lobby first, then the room.
    for (const viewer of [alice, bob]) {
      const rooms = await viewer.page
        .locator("[data-testid=room]")
        .evaluateAll((items) => items.map((item) => item.getAttribute("data-room")));
      expect(rooms).toEqual(["lobby", "design"]);
    }

    await send(alice.page, "Mock-ups are in the shared folder.");
    await waitForMessage(bob.page, "Mock-ups are in the shared folder.");
    await send(bob.page, "Looking now.");
    await waitForMessage(alice.page, "Looking now.");

    // Bob goes to the lobby; what Alice says in #design waits there, counted.
    await selectRoom(bob.page, "lobby");
    expect(await shownTexts(bob.page)).not.toContain("Looking now.");
    await send(alice.page, "The header needs work.");
    await send(alice.page, "And the footer.");
    await expect.poll(() => unreadCount(bob.page, "design"), { timeout: 10_000 }).toBe(2);
    expect(await unreadCount(bob.page, "lobby")).toBe(0);
    await expect.poll(() => bob.page.title()).toBe("(2) Chat");

    // In the lobby, on screen for Bob: shown and announced, not counted.
    await selectRoom(alice.page, "lobby");
    await send(alice.page, "Lunch, anyone?");
    await waitForMessage(bob.page, "Lunch, anyone?");
    expect(await unreadCount(bob.page, "lobby")).toBe(0);
    const announced = await bob.page.locator(selectors.announcer).textContent();
    expect(announced).toContain("Alice: Lunch, anyone?");
    expect(announced).not.toContain("header"); // #design was not on screen
    expect(await shownTexts(bob.page)).not.toContain("And the footer.");

    await selectRoom(bob.page, "design");
    expect(await unreadCount(bob.page, "design")).toBe(0);
    expect(await bob.page.title()).toBe("Chat");
    expect(await shownTexts(bob.page)).toEqual([
      "Mock-ups are in the shared folder.",
      "Looking now.",
      "The header needs work.",
      "And the footer.",
    ]);

    await selectRoom(alice.page, "design");
    await send(bob.page, "Agreed. I'll take the header, you take the footer?");
    await waitForMessage(alice.page, "you take the footer?");
    await send(alice.page, "Deal.");
    await waitForMessage(bob.page, "Deal.");
    // Someone else in the lobby, for the screenshot's unread badges.
    const carol = await rawClient("Carol", "lobby");
    await say(carol, "lobby", "Standup moved to 10:30.");
    for (const viewer of [alice, bob]) await expect.poll(() => unreadCount(viewer.page, "lobby")).toBe(1);
    await saveScreenshot(chromium(), alice, bob);
    expect([...alice.problems, ...bob.problems]).toEqual([]);
  });

  it("a second tab of the same person follows the rooms joined and left in the first, and what was read there", async () => {
    showLogOnFailure();
    const alice = await user("Alice");
    // Same browser, so same localStorage; its own socket. The development sign-in is per tab: the same name is the
    // same user.
    const second = await alice.context.newPage();
    second.on("pageerror", (err) => alice.problems.push(`second tab: ${err.message}`));
    await second.goto(sandbox.urls.page);
    await second.getByLabel("Your name").fill("Alice");
    await second.getByRole("button", { name: "Sign in" }).click();
    await waitForState(second, "live");
    expect(await second.locator(selectors.who).getAttribute("title")).toBe(alice.userId);

    await joinRoom(alice.page, "standup");
    await second.locator(selectors.room("standup")).waitFor();
    await second.locator(`${selectors.room("lobby")}[aria-current="true"]`).waitFor(); // still its own screen

    // Said while both tabs show the lobby: unread in both; read in the first, and so in the second.
    await selectRoom(alice.page, "lobby");
    const rita = await rawClient("Rita", "standup");
    await say(rita, "standup", "Yesterday: the fan-out.");
    for (const tab of [alice.page, second]) await expect.poll(() => unreadCount(tab, "standup")).toBe(1);
    await selectRoom(alice.page, "standup");
    await expect.poll(() => unreadCount(second, "standup")).toBe(0);
    await expect.poll(() => second.title()).toBe("Chat");

    // Left in the first tab: gone from the second, whose socket leaves it too (Rita's room hears one departure).
    await alice.page.locator(selectors.leaveRoom).click();
    await second.locator(selectors.room("standup")).waitFor({ state: "detached" });
    await rita.waitFor((frame) => (frame as { type?: string }).type === "left");
    expect(alice.problems).toEqual([]);
  });

  it("a joiner gets the room's history, and the rooms come back after a reload", async () => {
    showLogOnFailure();
    const alice = await user("Alice");
    await joinRoom(alice.page, "release");
    for (const text of ["Branch cut at noon.", "QA signed off.", "Tagging v2.4.0."]) await send(alice.page, text);
    await waitForMessage(alice.page, "Tagging v2.4.0.");

    const bob = await user("Bob");
    await joinRoom(bob.page, "release");
    await waitForMessage(bob.page, "Tagging v2.4.0.");
    const shown = await shownMessages(bob.page);
    expect(shown.map(({ sender, text }) => ({ sender, text }))).toEqual([
      { sender: "Alice", text: "Branch cut at noon." },
      { sender: "Alice", text: "QA signed off." },
      { sender: "Alice", text: "Tagging v2.4.0." },
    ]);
    await expectOrderedWithoutDuplicates(bob.page);

    await bob.page.reload();
    await waitForState(bob.page, "live");
    await bob.page.locator(`${selectors.room("release")}[aria-current="true"]`).waitFor();
    await waitForMessage(bob.page, "Tagging v2.4.0.");
    expect(await shownTexts(bob.page)).toEqual(["Branch cut at noon.", "QA signed off.", "Tagging v2.4.0."]);
  });

  it("loads older messages when scrolled to the top, in order, keeping the view in place", async () => {
    showLogOnFailure();
    const total = 160;
    // Four senders at once (one alone is slow on a loaded machine; one connection's concurrent frames contend for
    // its rate-limit bucket). The order to expect is the ids' order, taken from the echoes.
    const seeders = await Promise.all(range(1, 4).map((n) => rawClient(`Seeder ${n}`, "archive")));
    const echoes: MessageFrame[] = [];
    await Promise.all(
      seeders.map(async (seeder, index) => {
        for (let n = index + 1; n <= total; n += seeders.length) {
          echoes.push(await say(seeder, "archive", `archived ${n}`));
        }
      }),
    );
    const expected = echoes.sort((a, b) => (a.id < b.id ? -1 : 1)).map((message) => message.text);
    expect(new Set(expected).size).toBe(total);

    const alice = await user("Alice", { width: 1000, height: 560 });
    await joinRoom(alice.page, "archive");
    await waitForMessage(alice.page, expected.at(-1) ?? "");
    // The 50 most recent on join.
    expect(await shownTexts(alice.page)).toEqual(expected.slice(-50));

    const scroller = alice.page.locator(".messages-pane:not([hidden]) .messages-scroller");
    // Two pages further back: 100 (11..110), then the last 10.
    for (const oldestShown of [expected[total - 150], expected[0]]) {
      const anchorId = await alice.page.locator(selectors.message).first().getAttribute("data-id");
      const anchor = alice.page.locator(`${selectors.message}[data-id="${anchorId}"]`);
      await scroller.evaluate((element) => {
        element.scrollTop = 0;
      });
      const topBefore = await anchor.evaluate((element) => element.getBoundingClientRect().top);
      await expect.poll(async () => (await shownTexts(alice.page))[0], { timeout: 15_000 }).toBe(oldestShown);
      // What was at the top is still where it was: the page grew above it.
      const topAfter = await anchor.evaluate((element) => element.getBoundingClientRect().top);
      expect(Math.abs(topAfter - topBefore)).toBeLessThan(40);
    }
    expect(await shownTexts(alice.page)).toEqual(expected);
    await expectOrderedWithoutDuplicates(alice.page);
    await expect
      .poll(() => alice.page.locator(selectors.historyStatus).textContent())
      .toBe("This is the start of #archive.");
  }, 90_000);

  it("shows who is online, updated when people join, leave and sign out", async () => {
    showLogOnFailure();
    const [alice, bob] = await Promise.all([user("Alice"), user("Bob")]);
    await expect.poll(() => onlineNames(alice.page), { timeout: 10_000 }).toEqual(["Alice (you)", "Bob"]);
    expect(await alice.page.locator(selectors.onlineList).getAttribute("aria-labelledby")).toBeTruthy();

    await joinRoom(alice.page, "ops");
    await expect.poll(() => onlineNames(alice.page)).toEqual(["Alice (you)"]);
    await joinRoom(bob.page, "ops");
    await expect.poll(() => onlineNames(alice.page), { timeout: 10_000 }).toEqual(["Alice (you)", "Bob"]);

    await bob.page.locator(selectors.leaveRoom).click();
    await bob.page.locator(`${selectors.room("lobby")}[aria-current="true"]`).waitFor();
    expect(await bob.page.locator(selectors.room("ops")).count()).toBe(0);
    await expect.poll(() => onlineNames(alice.page), { timeout: 10_000 }).toEqual(["Alice (you)"]);

    await selectRoom(alice.page, "lobby");
    await expect.poll(() => onlineNames(alice.page)).toEqual(["Alice (you)", "Bob"]);
    await bob.page.getByRole("button", { name: "Sign out" }).click();
    await expect.poll(() => onlineNames(alice.page), { timeout: 10_000 }).toEqual(["Alice (you)"]);
  });

  it("has a compact room switcher and online pop-over at 375 px", async () => {
    showLogOnFailure();
    const alice = await user("Alice", { width: 375, height: 667 });
    const { page } = alice;
    // The join form is folded behind "+".
    expect(await page.locator(selectors.joinInput).isVisible()).toBe(false);
    expect(await page.locator(selectors.onlineList).isVisible()).toBe(false);
    await page.locator(selectors.roomAdd).click();
    await page.locator(selectors.joinInput).fill("Not a room!");
    await page.locator(selectors.joinInput).press("Enter");
    expect(await page.locator(selectors.joinError).textContent()).toMatch(/a–z, 0–9/);
    expect(await page.locator(selectors.joinInput).getAttribute("aria-invalid")).toBe("true");

    await joinRoom(page, "mobile-team");
    expect(await page.locator(selectors.joinInput).isVisible()).toBe(false); // folded again
    const bob = await user("Bob");
    await joinRoom(bob.page, "mobile-team");

    const toggle = page.locator(selectors.onlineToggle);
    await expect.poll(() => toggle.textContent(), { timeout: 10_000 }).toMatch(/^2 online/);
    await toggle.click();
    expect(await toggle.getAttribute("aria-expanded")).toBe("true");
    expect(await onlineNames(page, selectors.onlinePopover)).toEqual(["Alice (you)", "Bob"]);
    await page.keyboard.press("Escape");
    expect(await page.locator(selectors.onlinePopover).isHidden()).toBe(true);

    await send(bob.page, "hi from a wide screen");
    await waitForMessage(page, "hi from a wide screen");
    await selectRoom(page, "lobby");
    await send(bob.page, "and another");
    await expect.poll(() => unreadCount(page, "mobile-team"), { timeout: 10_000 }).toBe(1);

    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    for (const selector of [
      selectors.room("mobile-team"),
      selectors.roomAdd,
      selectors.onlineToggle,
      selectors.input,
    ]) {
      const box = await page.locator(selector).boundingBox();
      expect(box, selector).not.toBeNull();
      expect((box?.x ?? 0) + (box?.width ?? 0)).toBeLessThanOrEqual(375);
    }
  });
});

describe("no message lost", () => {
  it("after the socket drops while others keep sending, the page ends with every message, in order, once", async () => {
    showLogOnFailure();
    const alice = await user("Alice");
    await joinRoom(alice.page, "ops");
    const [carol, ...others] = await Promise.all(
      ["Carol", "Dan", "Erin", "Frank"].map((name) => rawClient(name, "ops")),
    );
    if (!carol) throw new Error("no Carol");
    const echoes: MessageFrame[] = [];
    let count = 0;
    const sayNext = async (client: TestClient = carol) => {
      echoes.push(await say(client, "ops", `status ${++count}`));
    };
    for (let i = 0; i < 10; i++) await sayNext();
    await waitForMessage(alice.page, "status 10");

    // What the page asks of its next socket.
    const asked: Record<string, unknown>[] = [];
    alice.page.on("websocket", (socket) =>
      socket.on("framesent", (frame) => asked.push(JSON.parse(String(frame.payload)))),
    );
    const states = await recordStates(alice.page);
    const before = connectionOf(alice.userId);
    if (!before) throw new Error("Alice has no open connection");
    // Offline first, so the page cannot come straight back while 120 messages go out: more than one page of
    // catch-up (100), so it has to follow `hasMore`.
    await alice.context.setOffline(true);
    expect(sandbox.hooks.dropConnection(before.connectionId)).toBe(true);
    await expect.poll(states).toContain("reconnecting");
    await Promise.all(
      [carol, ...others].map(async (client) => {
        for (let i = 0; i < 30; i++) await sayNext(client);
      }),
    );
    expect(connectionOf(alice.userId)).toBeUndefined();

    // Back online (the page retries at once on the browser's `online` event); Carol keeps talking meanwhile.
    await alice.context.setOffline(false);
    for (let i = 0; i < 10; i++) await sayNext();
    await waitForState(alice.page, "live");
    await waitForJoined(alice.page);
    for (let i = 0; i < 5; i++) await sayNext();

    const expected = echoes.sort((a, b) => (a.id < b.id ? -1 : 1)).map((message) => message.text);
    await expect.poll(() => shownTexts(alice.page), { timeout: 20_000 }).toEqual(expected);
    await expectOrderedWithoutDuplicates(alice.page);
    expect(connectionOf(alice.userId)?.connectionId).not.toBe(before.connectionId);
    // Rejoined from the last message it had, then followed the catch-up past the first page.
    const lastSeen = echoes.find((message) => message.text === "status 10")?.id;
    expect(asked).toContainEqual({ action: "join", room: "ops", after: lastSeen });
    expect(asked.some((frame) => frame.action === "history" && frame.room === "ops" && "after" in frame)).toBe(true);
  }, 90_000);

  it("fetches a message that live delivery lost, as soon as the next one shows the gap", async () => {
    showLogOnFailure();
    const alice = await user("Alice");
    await joinRoom(alice.page, "flaky");
    const carol = await rawClient("Carol", "flaky");
    await say(carol, "flaky", "one");
    await waitForMessage(alice.page, "one");

    const connection = connectionOf(alice.userId);
    if (!connection) throw new Error("Alice has no open connection");
    // The next post to Alice's connection fails: "two" never reaches her live.
    sandbox.hooks.faults.add({ connectionIds: [connection.connectionId], methods: ["POST"], status: 500, times: 1 });
    await say(carol, "flaky", "two");
    await say(carol, "flaky", "three");
    await waitForMessage(alice.page, "three");
    await expect.poll(() => shownTexts(alice.page), { timeout: 10_000 }).toEqual(["one", "two", "three"]);
    await expectOrderedWithoutDuplicates(alice.page);
  });
});

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
