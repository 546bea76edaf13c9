import type { BrowserContext, Page, Request, Route } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type Sandbox, startSandbox } from "../../sandbox/sandbox.js";
import { buildPage, chromiumPerFile, selectors, send, waitForMessage, waitForState } from "./browser.js";

/**
 * SuperTokens mode in Chromium: the real supertokens-web-js in the page, the real sandbox gateway and authorizer,
 * and a stand-in for the SuperTokens backend's `/auth/*` answers (no SuperTokens core can run here; FACTS.md). The
 * stand-in hands out tokens from the sandbox's issuer, so the authorizer verifies them for real.
 */

const chromium = chromiumPerFile();
let sandbox: Sandbox;
let disposePage: () => Promise<void>;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  const page = await buildPage();
  disposePage = page.dispose;
  sandbox = await startSandbox({ port: 0, webRoot: page.webRoot, logLevel: "warn", log: () => {} });
});

afterAll(async () => {
  await sandbox?.close();
  await disposePage?.();
});

afterEach(async () => {
  await Promise.all(contexts.splice(0).map((context) => context.close()));
});

interface FakeBackend {
  page: Page;
  calls: string[];
  /** Access tokens handed out, in order. */
  issued: string[];
  scripts: string[];
}

/**
 * A browser context whose `/config.json` says SuperTokens and whose `/auth/*` answers as supertokens-node would:
 * `front-token` and `st-access-token` headers on sign-in and refresh (cookie mode with
 * `exposeAccessTokenToFrontendInCookieBasedAuth`), `front-token: remove` on sign-out.
 */
async function superTokensPage(options: { tokenLifetimeSeconds?: number } = {}): Promise<FakeBackend> {
  const context = await chromium().newContext({ viewport: { width: 420, height: 640 } });
  contexts.push(context);
  const calls: string[] = [];
  const issued: string[] = [];
  const scripts: string[] = [];
  const userId = "st-user-7f3a";
  const email = "ada@example.com";

  const withSession = async (route: Route, body: unknown) => {
    const issuer = sandbox.devIssuer;
    if (!issuer) throw new Error("the sandbox has no development issuer");
    const { token, expiresAt } = issuer.sign({ userId, ttlSeconds: options.tokenLifetimeSeconds ?? 3600 });
    issued.push(token);
    const frontToken = Buffer.from(JSON.stringify({ uid: userId, ate: expiresAt * 1000, up: {} })).toString("base64");
    await route.fulfill({
      json: body,
      headers: { "front-token": frontToken, "st-access-token": token, "access-control-expose-headers": "front-token" },
    });
  };

  await context.route("**/config.json", async (route) => {
    const response = await route.fetch();
    const config = (await response.json()) as { auth: Record<string, string> };
    await route.fulfill({ response, json: { ...config, auth: { ...config.auth, mode: "supertokens" } } });
  });
  await context.route("**/auth/**", async (route, request: Request) => {
    const path = new URL(request.url()).pathname;
    calls.push(path);
    const fields = formFields(request);
    if (path === "/auth/signin") {
      if (fields.password !== "correct horse") return route.fulfill({ json: { status: "WRONG_CREDENTIALS_ERROR" } });
      const user = {
        id: userId,
        timeJoined: 0,
        isPrimaryUser: false,
        tenantIds: ["public"],
        emails: [email],
        phoneNumbers: [],
        thirdParty: [],
        loginMethods: [],
      };
      return withSession(route, { status: "OK", user });
    }
    if (path === "/auth/signup") {
      return route.fulfill({
        json: {
          status: "FIELD_ERROR",
          formFields: [{ id: "email", error: "This email already exists. Please sign in instead." }],
        },
      });
    }
    if (path === "/auth/session/refresh") {
      // No session yet (web-js probes at start-up): 401, as supertokens-node answers.
      if (issued.length === 0) return route.fulfill({ status: 401, json: { message: "unauthorised" } });
      return withSession(route, {});
    }
    if (path === "/auth/signout")
      return route.fulfill({ json: { status: "OK" }, headers: { "front-token": "remove" } });
    return route.fulfill({ status: 404, json: { message: "not faked" } });
  });

  const page = await context.newPage();
  page.on("request", (request) => {
    if (request.resourceType() === "script") scripts.push(new URL(request.url()).pathname);
  });
  await page.goto(sandbox.urls.page);
  return { page, calls, issued, scripts };
}

/** The EmailPassword form fields of a request, by id; empty for requests without them. */
function formFields(request: Request): Record<string, string> {
  let body: unknown;
  try {
    body = JSON.parse(request.postData() ?? "null");
  } catch {
    return {};
  }
  const fields = (body as { formFields?: { id: string; value: string }[] } | null)?.formFields ?? [];
  return Object.fromEntries(fields.map((field) => [field.id, field.value]));
}

async function submit(page: Page, email: string, password: string) {
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.locator("[data-testid=sign-in-submit]").click();
}

describe("SuperTokens mode", () => {
  it("signs in with email and password, connects with the session's token, chats, and signs out", async () => {
    const { page, calls, issued, scripts } = await superTokensPage();
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    // supertokens-web-js arrives as its own chunk, in this mode only.
    expect(scripts.filter((script) => script.includes("/chunk-")).length).toBeGreaterThanOrEqual(1);

    await submit(page, "ada@example.com", "wrong");
    await page.getByText("That email and password do not match an account.").waitFor();
    expect(await page.locator(selectors.state).getAttribute("data-state")).toBe("signed-out");

    await submit(page, "ada@example.com", "correct horse");
    await waitForState(page, "live");
    expect(await page.locator(selectors.who).textContent()).toBe("ada@example.com");
    const [connection] = sandbox.hooks.connections();
    expect(connection?.principalId).toBe("st-user-7f3a");

    await send(page, "hello from SuperTokens mode");
    await waitForMessage(page, "hello from SuperTokens mode");
    expect(issued).toHaveLength(1);

    await page.getByRole("button", { name: "Sign out" }).click();
    await waitForState(page, "signed-out");
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    expect(calls).toContain("/auth/signout");
    await expect.poll(() => sandbox.hooks.connections().length, { timeout: 5000 }).toBe(0);
  });

  it("refreshes a token within a minute of expiry before opening the socket", async () => {
    // A 30 s token: getAccessToken() alone would hand it over as it is.
    const { page, calls, issued } = await superTokensPage({ tokenLifetimeSeconds: 30 });
    const sockets: string[] = [];
    page.on("websocket", (socket) => sockets.push(socket.url()));
    await submit(page, "ada@example.com", "correct horse");
    await waitForState(page, "live");
    expect(calls.filter((path) => path === "/auth/session/refresh").length).toBeGreaterThanOrEqual(1);
    expect(issued.length).toBeGreaterThanOrEqual(2);
    const used = new URL(sockets[0] ?? "").searchParams.get("token");
    expect(used).not.toBe(issued[0]); // not the token from sign-in: a refreshed one
    expect(issued.slice(1)).toContain(used);
  });

  it("shows sign-up errors on the field they belong to", async () => {
    const { page } = await superTokensPage();
    await page.getByRole("button", { name: "New here? Create an account" }).click();
    await page.getByRole("heading", { name: "Create an account" }).waitFor();
    expect(await page.getByLabel("Password").getAttribute("autocomplete")).toBe("new-password");

    await page.locator("[data-testid=sign-in-submit]").click();
    expect(await page.locator("#field-email-error").textContent()).toBe("Enter your email address.");

    await submit(page, "ada@example.com", "correct horse");
    await page.getByText("This email already exists. Please sign in instead.").waitFor();
    expect(await page.getByLabel("Email").getAttribute("aria-invalid")).toBe("true");
  });
});
