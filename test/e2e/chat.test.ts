import { readFile } from "node:fs/promises";
import path from "node:path";
import { gzipSync } from "node:zlib";
import type { WebSocket as PageSocket } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFailed } from "vitest";
import { type Sandbox, startSandbox } from "../../sandbox/sandbox.js";
import {
  buildPage,
  type ChatUser,
  chromiumPerFile,
  recordStates,
  selectors,
  send,
  shownMessages,
  signIn,
  waitForMessage,
  waitForState,
} from "./browser.js";

/**
 * The page in Chromium against the real sandbox (emulated API Gateway, the real handlers, development sign-in):
 * what two people chatting see, text that must stay text, sign-out, and recovering from a dropped socket.
 */

const chromium = chromiumPerFile();
let sandbox: Sandbox;
let disposePage: () => Promise<void>;
let webRoot: string;
const sandboxLog: string[] = [];
const users: ChatUser[] = [];

beforeAll(async () => {
  const page = await buildPage();
  disposePage = page.dispose;
  webRoot = page.webRoot;
  sandbox = await startSandbox({
    port: 0,
    webRoot: page.webRoot,
    logLevel: "warn",
    log: (line) => sandboxLog.push(line),
  });
});

afterAll(async () => {
  await sandbox?.close();
  await disposePage?.();
});

afterEach(async () => {
  await Promise.all(users.splice(0).map((user) => user.context.close()));
});

/** Signs a user in on the sandbox; the context is closed after the test. */
async function user(name: string, viewport?: { width: number; height: number }): Promise<ChatUser> {
  const signedIn = await signIn(chromium(), sandbox.urls.page, name, { viewport });
  users.push(signedIn);
  return signedIn;
}

/** Two people, signed in side by side (in parallel: it halves the wait). */
const pair = (a: string, b: string) => Promise.all([user(a), user(b)]);

function showLogOnFailure() {
  const start = sandboxLog.length;
  onTestFailed(() => console.log(`sandbox log:\n${sandboxLog.slice(start).join("\n")}`));
}

const openConnectionsOf = (userId: string) =>
  sandbox.hooks.connections().filter((connection) => connection.principalId === userId);

describe("chat in the browser", () => {
  it("two people see each other's messages with the right names, their own marked", async () => {
    showLogOnFailure();
    const [alice, bob] = await pair("Alice", "Bob");
    expect(alice.userId).not.toBe(bob.userId);

    await send(alice.page, "Hi Bob! Did the deploy go through?");
    await waitForMessage(bob.page, "Did the deploy go through?");
    // Shift+Enter makes a new line; Enter sends.
    const input = bob.page.locator(selectors.input);
    await input.fill("Yes, all green.");
    await input.press("Shift+Enter");
    await input.pressSequentially("The socket reconnects by itself now.");
    await input.press("Enter");
    await waitForMessage(alice.page, "reconnects by itself");
    await send(alice.page, "Nice work. Lunch at noon?");
    await waitForMessage(bob.page, "Lunch at noon?");
    await send(bob.page, "Sounds good, see you there.");
    await waitForMessage(alice.page, "see you there");
    await waitForMessage(bob.page, "see you there");

    const expected = [
      { sender: "Alice", text: "Hi Bob! Did the deploy go through?" },
      { sender: "Bob", text: "Yes, all green.\nThe socket reconnects by itself now." },
      { sender: "Alice", text: "Nice work. Lunch at noon?" },
      { sender: "Bob", text: "Sounds good, see you there." },
    ];
    for (const viewer of [alice, bob]) {
      const shown = await shownMessages(viewer.page);
      expect(shown.map(({ sender, text }) => ({ sender, text }))).toEqual(expected);
      expect(shown.map((message) => message.own)).toEqual(expected.map(({ sender }) => sender === viewer.name));
      for (const message of shown) expect(message.time).toMatch(/^\d{1,2}:\d{2}\s?(AM|PM)$/);
    }
    expect(await bob.page.locator(selectors.input).inputValue()).toBe(""); // cleared once sent
    expect([...alice.problems, ...bob.problems]).toEqual([]);
    // Development mode never downloads supertokens-web-js: the page's scripts stay small (what travels: gzip).
    const scriptBytes = await Promise.all(
      alice.scripts.map(async (script) => gzipSync(await readFile(path.join(webRoot, script))).length),
    );
    expect(scriptBytes.reduce((sum, size) => sum + size, 0)).toBeLessThan(18 * 1024);
  });

  it("shows HTML in a message as text, creating no elements", async () => {
    showLogOnFailure();
    const [alice, bob] = await pair("Mallory", "Bob");
    const requested: string[] = [];
    bob.page.on("request", (request) => requested.push(request.url()));

    const hostile = "<img src=x onerror=alert(1)> and <b>bold</b>";
    await send(alice.page, hostile);
    for (const viewer of [bob, alice]) {
      await waitForMessage(viewer.page, "and <b>bold</b>");
      const text = viewer.page.locator(`${selectors.message} .message-text`).last();
      expect(await text.textContent()).toBe(hostile);
      expect(await viewer.page.locator(`${selectors.messages} img, ${selectors.messages} b`).count()).toBe(0);
      // The sender's name is text too.
      expect(await viewer.page.locator(`${selectors.message} .message-sender`).last().textContent()).toBe("Mallory");
    }
    expect([...alice.dialogs, ...bob.dialogs]).toEqual([]);
    expect(requested.filter((url) => new URL(url).pathname.endsWith("/x"))).toEqual([]);
  });

  it("refuses, by its Content-Security-Policy, script the page did not ship", async () => {
    showLogOnFailure();
    const mallory = await user("Mallory");
    const refusals: string[] = [];
    mallory.page.on("console", (message) => {
      if (message.text().includes("Content Security Policy")) refusals.push(message.text());
    });
    // As if some text had ever reached the DOM as markup: an inline script and an inline event handler.
    const ran = await mallory.page.evaluate(async () => {
      const flags = globalThis as { injected?: boolean; handler?: boolean };
      const script = document.createElement("script");
      script.textContent = "globalThis.injected = true";
      document.head.append(script);
      const img = document.createElement("img");
      img.setAttribute("onerror", "globalThis.handler = true");
      img.src = "data:,not-an-image";
      document.body.append(img);
      await new Promise((resolve) => setTimeout(resolve, 300));
      img.remove();
      return { script: flags.injected === true, handler: flags.handler === true };
    });
    expect(ran).toEqual({ script: false, handler: false });
    expect(refusals.length).toBeGreaterThanOrEqual(2);
    // The page's own script still runs: the chat is live.
    await waitForState(mallory.page, "live");
  });

  it("closes the socket on sign-out, makes sending impossible, and delivers nothing afterwards", async () => {
    showLogOnFailure();
    const [alice, bob] = await pair("Alice", "Bob");
    expect(openConnectionsOf(alice.userId)).toHaveLength(1);

    const sockets: PageSocket[] = [];
    alice.page.on("websocket", (socket) => sockets.push(socket));
    const framesAfterSignOut: string[] = [];
    let signedOut = false;
    // Sockets opened before this listener: reach the live one through the next frame instead.
    await send(bob.page, "before sign-out");
    await waitForMessage(alice.page, "before sign-out");

    await alice.page.getByRole("button", { name: "Sign out" }).click();
    signedOut = true;
    await waitForState(alice.page, "signed-out");
    await expect.poll(() => openConnectionsOf(alice.userId).length, { timeout: 5000 }).toBe(0);
    expect(openConnectionsOf(bob.userId)).toHaveLength(1);

    // No way to send: the composer is gone and the sign-in form is back.
    expect(await alice.page.locator(selectors.input).count()).toBe(0);
    await alice.page.getByLabel("Your name").waitFor();
    expect(await alice.page.locator(selectors.signOut).isHidden()).toBe(true);

    for (const socket of sockets)
      socket.on("framereceived", (frame) => signedOut && framesAfterSignOut.push(String(frame.payload)));
    await send(bob.page, "after sign-out");
    await waitForMessage(bob.page, "after sign-out");
    await sandbox.hooks.idle();
    // And no reconnect loop: the page stays signed out with no socket.
    await alice.page.waitForTimeout(1000);
    expect(openConnectionsOf(alice.userId)).toHaveLength(0);
    expect(sockets.filter((socket) => !socket.isClosed())).toEqual([]);
    expect(framesAfterSignOut).toEqual([]);
    expect(await alice.page.locator(selectors.state).getAttribute("data-state")).toBe("signed-out");
  });

  it("reconnects by itself after the sandbox drops the socket, and messages flow again", async () => {
    showLogOnFailure();
    const [alice, bob] = await pair("Alice", "Bob");
    const states = await recordStates(alice.page);
    const [before] = openConnectionsOf(alice.userId);
    if (!before) throw new Error("Alice has no open connection");

    expect(sandbox.hooks.dropConnection(before.connectionId)).toBe(true);
    await expect.poll(states, { timeout: 10_000 }).toContain("live");
    expect(await states()).toEqual(["reconnecting", "live"]);
    const after = openConnectionsOf(alice.userId);
    expect(after).toHaveLength(1);
    expect(after[0]?.connectionId).not.toBe(before.connectionId);

    await send(bob.page, "are you back?");
    await waitForMessage(alice.page, "are you back?");
    await send(alice.page, "yes, reconnected");
    await waitForMessage(bob.page, "yes, reconnected");
  });

  it("shows the server's error frames next to the input", async () => {
    showLogOnFailure();
    const alice = await user("Alice");
    // Over the per-connection burst (10, refilled at 2/s): type and press Enter 20 times within one task, so a
    // loaded machine cannot spread them out enough for the bucket to refill.
    await alice.page.locator(selectors.input).evaluate((input: HTMLTextAreaElement) => {
      for (let i = 1; i <= 20; i++) {
        input.value = `message ${i}`;
        input.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true, cancelable: true }));
      }
    });
    await expect
      .poll(() => alice.page.locator(selectors.composerError).textContent(), { timeout: 10_000 })
      .toMatch(/Too many messages/);
    expect(await alice.page.locator(selectors.composerError).getAttribute("aria-live")).toBe("assertive");
    await waitForState(alice.page, "live");
  });

  it("is usable on a phone-sized screen", async () => {
    showLogOnFailure();
    const alice = await user("Alice", { width: 375, height: 667 });
    await send(alice.page, "x".repeat(300)); // one long word must wrap, not widen the page
    await waitForMessage(alice.page, "xxxx");
    const overflow = await alice.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    for (const selector of [selectors.input, selectors.signOut, selectors.state]) {
      const box = await alice.page.locator(selector).boundingBox();
      expect(box, selector).not.toBeNull();
      expect((box?.x ?? 0) + (box?.width ?? 0)).toBeLessThanOrEqual(375);
    }
  });
});
