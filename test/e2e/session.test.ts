import type { BrowserContext, WebSocket as PageSocket } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type Sandbox, startSandbox } from "../../sandbox/sandbox.js";
import {
  buildPage,
  type ChatUser,
  chromiumPerFile,
  recordStates,
  selectors,
  send,
  signIn,
  waitForMessage,
  waitForState,
} from "./browser.js";

/**
 * The token's way to the server and its lifetime, in Chromium against the sandbox: the subprotocol transport, a
 * refused handshake (the authorizer's 401), and renewal over the open socket before the token expires.
 */

const chromium = chromiumPerFile();
let webRoot: string;
let disposePage: () => Promise<void>;
const sandboxes: Sandbox[] = [];
const users: ChatUser[] = [];

beforeAll(async () => {
  ({ webRoot, dispose: disposePage } = await buildPage());
});

afterAll(async () => {
  await Promise.all(sandboxes.map((sandbox) => sandbox.close()));
  await disposePage?.();
});

afterEach(async () => {
  await Promise.all(users.splice(0).map((user) => user.context.close()));
});

async function sandboxWith(options: Parameters<typeof startSandbox>[0]): Promise<Sandbox> {
  const sandbox = await startSandbox({ port: 0, webRoot, logLevel: "warn", log: () => {}, ...options });
  sandboxes.push(sandbox);
  return sandbox;
}

async function user(sandbox: Sandbox, name: string, options: Parameters<typeof signIn>[3] = {}) {
  const signedIn = await signIn(chromium(), sandbox.urls.page, name, options);
  users.push(signedIn);
  return signedIn;
}

/** Records the page's sockets from the first one on. */
function watchSockets(context: BrowserContext): PageSocket[] {
  const sockets: PageSocket[] = [];
  context.on("page", (page) => page.on("websocket", (socket) => sockets.push(socket)));
  return sockets;
}

describe("token transport", () => {
  it("sends the token as a WebSocket subprotocol when config.json says so, keeping it out of the URL", async () => {
    const sandbox = await sandboxWith({ tokenTransport: "subprotocol" });
    let sockets: PageSocket[] = [];
    const alice = await user(sandbox, "Alice", {
      prepare: async (context) => {
        sockets = watchSockets(context);
        // Until the sandbox's config.json names its transport, tell the page as the deployed config.json will.
        await context.route("**/config.json", async (route) => {
          const response = await route.fetch();
          await route.fulfill({ response, json: { tokenTransport: "subprotocol", ...(await response.json()) } });
        });
      },
    });
    expect(sockets).toHaveLength(1);
    expect(new URL(sockets[0]?.url() ?? "").search).toBe("");
    await send(alice.page, "over a subprotocol");
    await waitForMessage(alice.page, "over a subprotocol");
  });
});

describe("refused handshake", () => {
  it("backs off without hammering, re-checks the session, and recovers once the token is good", async () => {
    const sandbox = await sandboxWith({});
    let corrupt = true;
    let signInCalls = 0;
    let sockets: PageSocket[] = [];
    const alice = await user(sandbox, "Alice", {
      waitLive: false,
      prepare: async (context) => {
        sockets = watchSockets(context);
        // A token the authorizer refuses (bad signature) but the page believes fresh: the 401 case.
        await context.route("**/auth/dev/signin", async (route) => {
          signInCalls++;
          const response = await route.fetch();
          const body = (await response.json()) as { accessToken: string };
          if (corrupt) body.accessToken = `${body.accessToken.slice(0, body.accessToken.lastIndexOf(".") + 1)}AAAA`;
          await route.fulfill({ response, json: body });
        });
      },
    });

    await expect.poll(() => sockets.length, { timeout: 10_000 }).toBeGreaterThanOrEqual(3);
    const attempts = sockets.length;
    expect(await alice.page.locator(selectors.state).getAttribute("data-state")).toBe("reconnecting");
    expect(await alice.page.locator(selectors.input).isDisabled()).toBe(true);
    expect(sandbox.hooks.connections()).toEqual([]);
    // The sign-in, then a session re-check before the 2nd attempt, the 6th, the 10th...: not one per attempt. (The
    // re-check for the next attempt may already be under way, hence either count.)
    const expectedCalls = (n: number) => 1 + Math.floor((n + 2) / 4);
    expect([expectedCalls(attempts), expectedCalls(attempts + 1)]).toContain(signInCalls);
    // Exponential backoff: within 2 more seconds, only a few more attempts, not dozens.
    await alice.page.waitForTimeout(2000);
    expect(sockets.length - attempts).toBeLessThanOrEqual(3);

    // The session is fine again; the browser comes back online (retry now, with a re-check).
    corrupt = false;
    const states = await recordStates(alice.page);
    await alice.page.evaluate(() => window.dispatchEvent(new Event("online")));
    await waitForState(alice.page, "live");
    expect((await states()).at(-1)).toBe("live");
    expect(sandbox.hooks.connections()).toHaveLength(1);
  });
});

describe("token lifetime", () => {
  it("renews the session over the open socket before the token expires, without reconnecting", async () => {
    // Tokens that live 4 s: the page renews at half-life (its one-minute margin is longer than the token).
    const sandbox = await sandboxWith({ auth: { kind: "development", tokenTtlSeconds: 4 } });
    let sockets: PageSocket[] = [];
    const sent: string[] = [];
    const received: string[] = [];
    const alice = await user(sandbox, "Alice", {
      prepare: async (context) => {
        sockets = watchSockets(context);
        context.on("page", (page) =>
          page.on("websocket", (socket) => {
            socket.on("framesent", (frame) => sent.push(String(frame.payload)));
            socket.on("framereceived", (frame) => received.push(String(frame.payload)));
          }),
        );
      },
    });
    const [connection] = sandbox.hooks.connections();

    const firstToken = new URL(sockets[0]?.url() ?? "").searchParams.get("token") ?? "";
    const firstExpiry = (
      JSON.parse(Buffer.from(firstToken.split(".")[1] ?? "", "base64url").toString()) as { exp: number }
    ).exp;

    await expect
      .poll(() => received.filter((frame) => frame.includes('"refreshed"')).length, { timeout: 8000 })
      .toBeGreaterThanOrEqual(1);
    expect(sent.some((frame) => JSON.parse(frame).action === "refresh")).toBe(true);
    // Past the first token's expiry, on the same connection, messages still go through (an expired connection would
    // get session_expired and be closed).
    await alice.page.waitForTimeout(Math.max(0, firstExpiry * 1000 + 500 - Date.now()));
    await send(alice.page, "still here");
    await waitForMessage(alice.page, "still here");
    expect(sockets).toHaveLength(1);
    expect(sandbox.hooks.connections().map((c) => c.connectionId)).toEqual([connection?.connectionId]);
    expect(received.some((frame) => frame.includes("session_expired"))).toBe(false);
  });
});
