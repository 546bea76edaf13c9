import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
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

export const selectors = {
  state: "[data-testid=connection-state]",
  messages: "[data-testid=messages]",
  message: "[data-testid=messages] > li",
  input: "[data-testid=composer-input]",
  composerError: "[data-testid=composer-error]",
  signOut: "[data-testid=sign-out]",
  who: "[data-testid=who]",
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
  sender: string;
  text: string;
  own: boolean;
  time: string;
}

export function shownMessages(page: Page): Promise<ShownMessage[]> {
  return page.locator(selectors.message).evaluateAll((items) =>
    items.map((item) => ({
      sender: item.querySelector(".message-sender")?.textContent ?? "",
      text: item.querySelector(".message-text")?.textContent ?? "",
      own: item.getAttribute("data-own") === "true",
      time: item.querySelector("time")?.textContent ?? "",
    })),
  );
}

/** Waits until the page shows a message with exactly this text. */
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
