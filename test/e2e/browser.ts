import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, beforeEach } from "vitest";
import { buildWeb } from "../../web/build.js";

/**
 * Shared pieces of the browser tests: one Chromium per test file, a freshly built page, and helpers that drive the
 * page the way a person does (labels, keys), reading state from what it shows.
 */

const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
];

/** Debian's Chromium, or the one `CHROMIUM_PATH` names. Missing is a failure, never a skip: CI must not go green without the browser tests. */
export async function launchChromium(): Promise<Browser> {
  const executablePath = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
  if (!existsSync(executablePath)) {
    throw new Error(
      `No Chromium at ${executablePath}: the browser tests need one. Install Debian's with ` +
        "`apt-get update && apt-get install -y chromium`, or point CHROMIUM_PATH=/path/to/chromium at an existing one " +
        "(`npx playwright install` cannot download browsers on this network).",
    );
  }
  return chromium.launch({ executablePath, args: CHROMIUM_FLAGS });
}

/**
 * One Chromium for the calling test file, launched before its tests and closed after them. Without a Chromium, every
 * test of the file fails with the message above (a failing `beforeAll` alone would report them as skipped).
 */
export function chromiumPerFile(): () => Browser {
  let browser: Browser | undefined;
  let failure: unknown;
  beforeAll(async () => {
    try {
      browser = await launchChromium();
    } catch (err) {
      failure = err;
    }
  });
  beforeEach(() => {
    if (failure) throw failure;
  });
  afterAll(async () => {
    await browser?.close();
  });
  return () => {
    if (!browser) throw failure ?? new Error("Chromium is not running");
    return browser;
  };
}

/** Builds the page into a temporary directory; the sandbox serves it as `webRoot`. */
export async function buildPage(): Promise<{ webRoot: string; dispose: () => Promise<void> }> {
  const webRoot = await mkdtemp(path.join(tmpdir(), "chat-web-"));
  await buildWeb({ outdir: webRoot });
  return { webRoot, dispose: () => rm(webRoot, { recursive: true, force: true }) };
}

/** The message list of the room on screen (every joined room has one; the others are hidden). */
const shownList = ".messages-pane:not([hidden]) [data-testid=messages]";

export const selectors = {
  state: "[data-testid=connection-state]",
  messages: shownList,
  message: `${shownList} > li`,
  historyStatus: ".messages-pane:not([hidden]) [data-testid=history-status]",
  input: "[data-testid=composer-input]",
  composerError: "[data-testid=composer-error]",
  signOut: "[data-testid=sign-out]",
  who: "[data-testid=who]",
  roomTitle: "[data-testid=room-title]",
  room: (name: string) => `[data-testid=room][data-room="${name}"]`,
  roomAdd: "[data-testid=room-add]",
  joinInput: "[data-testid=join-input]",
  joinError: "[data-testid=join-error]",
  leaveRoom: "[data-testid=leave-room]",
  onlineList: "[data-testid=online-list]",
  onlineToggle: "[data-testid=online-toggle]",
  onlinePopover: "[data-testid=online-popover]",
  announcer: "[data-testid=announcer]",
} as const;

export interface ChatUser {
  name: string;
  userId: string;
  context: BrowserContext;
  page: Page;
  /** Browser console errors and page errors, to assert a clean run. */
  problems: string[];
  /** Dialogs the page opened (an `alert` from injected markup would land here). */
  dialogs: string[];
  /** Paths of the scripts the page loaded. */
  scripts: string[];
}

/** A new browser context (its own storage, so its own user) signed in with the development sign-in. */
export interface SignInOptions {
  viewport?: { width: number; height: number };
  /** Wait for the connection to go live. @default true */
  waitLive?: boolean;
  /** Runs on the fresh context before the page loads (routes, init scripts). */
  prepare?: (context: BrowserContext) => Promise<void>;
}

export async function signIn(
  browser: Browser,
  pageUrl: string,
  name: string,
  options: SignInOptions = {},
): Promise<ChatUser> {
  const viewport = options.viewport ?? { width: 420, height: 640 };
  const context = await browser.newContext({ viewport, colorScheme: "light", locale: "en-US", timezoneId: "UTC" });
  await options.prepare?.(context);
  const page = await context.newPage();
  const problems: string[] = [];
  const dialogs: string[] = [];
  page.on("pageerror", (err) => problems.push(`pageerror: ${err.message}`));
  page.on("console", (message) => {
    // A refused or cut WebSocket logs a console error by itself; that is the scenario, not a fault.
    if (message.type() === "error" && !message.text().includes("WebSocket")) problems.push(message.text());
  });
  const scripts: string[] = [];
  page.on("request", (request) => {
    if (request.resourceType() === "script") scripts.push(new URL(request.url()).pathname);
  });
  page.on("dialog", (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  await page.goto(pageUrl);
  await page.getByLabel("Your name").fill(name);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.locator(selectors.signOut).waitFor();
  if (options.waitLive ?? true) await waitForState(page, "live");
  const userId = (await page.locator(selectors.who).getAttribute("title")) ?? "";
  return { name, userId, context, page, problems, dialogs, scripts };
}

export async function waitForState(page: Page, state: string, timeout = 10_000): Promise<void> {
  await page.locator(`${selectors.state}[data-state="${state}"]`).waitFor({ timeout });
}

/** Types a message and presses Enter, as a person would. */
export async function send(page: Page, text: string): Promise<void> {
  const input = page.locator(selectors.input);
  await input.fill(text);
  await input.press("Enter");
}

export interface ShownMessage {
  id: string;
  sender: string;
  text: string;
  own: boolean;
  time: string;
}

/** The messages of the room on screen, top to bottom. */
export function shownMessages(page: Page): Promise<ShownMessage[]> {
  return page.locator(selectors.message).evaluateAll((items) =>
    items.map((item) => ({
      id: item.getAttribute("data-id") ?? "",
      sender: item.querySelector(".message-sender")?.textContent ?? "",
      text: item.querySelector(".message-text")?.textContent ?? "",
      own: item.getAttribute("data-own") === "true",
      time: item.querySelector("time")?.textContent ?? "",
    })),
  );
}

/** The texts of the room on screen, top to bottom. */
export async function shownTexts(page: Page): Promise<string[]> {
  return (await shownMessages(page)).map((message) => message.text);
}

/**
 * Joins (or creates) a room by typing its name, as a person does; on a narrow screen the form is behind "+" first.
 * Waits until the room is on screen and joined (the composer is enabled for it).
 */
export async function joinRoom(page: Page, name: string): Promise<void> {
  const input = page.locator(selectors.joinInput);
  if (!(await input.isVisible())) await page.locator(selectors.roomAdd).click();
  await input.fill(name);
  await input.press("Enter");
  await page.locator(`${selectors.room(name)}[aria-current="true"]`).waitFor();
  await waitForJoined(page);
}

/** Selects a room in the list and waits until it is on screen and joined. */
export async function selectRoom(page: Page, name: string): Promise<void> {
  await page.locator(selectors.room(name)).click();
  await page.locator(`${selectors.room(name)}[aria-current="true"]`).waitFor();
  await waitForJoined(page);
}

/** The room on screen can be written to: the connection is live and the server answered its join. */
export async function waitForJoined(page: Page, timeout = 10_000): Promise<void> {
  await page.locator(`${selectors.input}:not([disabled])`).waitFor({ timeout });
}

/** A room's unread badge: its number, or 0 when it is hidden. */
export async function unreadCount(page: Page, room: string): Promise<number> {
  const badge = page.locator(`${selectors.room(room)} [data-testid=unread]`);
  if (await badge.isHidden()) return 0;
  return Number((await badge.locator("[aria-hidden=true]").textContent()) ?? "0");
}

/** Names in an "online" list (the side bar's unless told), as shown. */
export function onlineNames(page: Page, list: string = selectors.onlineList): Promise<string[]> {
  return page
    .locator(`${list} .online-user`)
    .evaluateAll((items) => items.map((item) => (item.textContent ?? "").trim()));
}

/** Waits until the room on screen shows a message containing this text. */
export async function waitForMessage(page: Page, text: string, timeout = 10_000): Promise<void> {
  await page.locator(`${selectors.message} .message-text`).filter({ hasText: text }).first().waitFor({ timeout });
}

/** Records every value the connection indicator takes, so a short-lived state (reconnecting) is not missed. */
export async function recordStates(page: Page): Promise<() => Promise<string[]>> {
  await page.evaluate((selector) => {
    const indicator = document.querySelector<HTMLElement>(selector);
    const seen: string[] = [];
    (window as unknown as { __states: string[] }).__states = seen;
    if (!indicator) throw new Error("no connection indicator");
    new MutationObserver(() => seen.push(indicator.dataset.state ?? "")).observe(indicator, {
      attributes: true,
      attributeFilter: ["data-state"],
    });
  }, selectors.state);
  return () => page.evaluate(() => [...(window as unknown as { __states: string[] }).__states]);
}

/**
 * docs/screenshot.png, two windows side by side as two people see the same conversation; only when
 * `UPDATE_SCREENSHOT` is set (`npm run screenshot`), so that `npm test` leaves the working tree alone.
 */
export async function saveScreenshot(browser: Browser, left: ChatUser, right: ChatUser): Promise<void> {
  if (!process.env.UPDATE_SCREENSHOT) return;
  const [a, b] = await Promise.all([left.page.screenshot(), right.page.screenshot()]);
  const context = await browser.newContext({ viewport: { width: 1200, height: 600 }, deviceScaleFactor: 1 });
  try {
    const page = await context.newPage();
    const img = (png: Buffer, label: string) =>
      `<figure><img src="data:image/png;base64,${png.toString("base64")}" alt=""><figcaption>${label}</figcaption></figure>`;
    await page.setContent(
      `<body style="margin:0;background:#d9dde4;display:flex;gap:20px;padding:12px 10px;font:13px system-ui;width:max-content">
        <style>figure{margin:0}img{display:block;border-radius:8px;box-shadow:0 2px 8px rgb(0 0 0/.2)}
        figcaption{text-align:center;color:#333;margin-top:6px}</style>
        ${img(a, `${left.name}'s window`)}${img(b, `${right.name}'s window`)}</body>`,
    );
    const file = path.resolve(import.meta.dirname, "../../docs/screenshot.png");
    await writeFile(file, await page.screenshot({ fullPage: true }));
  } finally {
    await context.close();
  }
}
