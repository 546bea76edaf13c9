import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SiteConfig } from "../../core/site-config.js";
import { SandboxStartError } from "../../sandbox/errors.js";
import { type StandIn, superTokensCore } from "../auth/stand-ins.js";
import { startTestSandbox, type TestSandbox } from "../support/sandbox.js";

// The real supertokens-node backend at /auth of the page server. No SuperTokens core runs here (FACTS.md), so a
// loopback stand-in answers for it: far enough to show the requests reach the core, with the API key, and back.
// supertokens.init is per process; vitest gives this file a process of its own, so it may start the one sandbox.
const API_KEY = "sandbox-test-api-key-3c9d";

describe("the sandbox with a SuperTokens core", () => {
  let core: StandIn;
  let sandbox: TestSandbox;
  let origin: string;
  beforeAll(async () => {
    core = await superTokensCore();
    sandbox = await startTestSandbox({ auth: { kind: "supertokens", connectionUri: core.url, apiKey: API_KEY } });
    origin = new URL(sandbox.urls.page).origin;
  });
  afterAll(async () => {
    await sandbox?.close();
    await core?.close();
  });

  const post = (path: string, body: unknown) =>
    fetch(new URL(path, origin), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });

  it("has the authorizer trust <page>/auth and its JWKS, and tells the page to sign in with SuperTokens", async () => {
    expect(sandbox.urls.issuer).toBe(`${origin}/auth`);
    expect(sandbox.urls.jwks).toBe(`${origin}/auth/jwt/jwks.json`);
    expect(sandbox.env).toMatchObject({ ISSUER: `${origin}/auth`, JWKS_URI: `${origin}/auth/jwt/jwks.json` });
    expect(sandbox.devIssuer).toBeUndefined();
    const expected: SiteConfig = {
      webSocketUrl: sandbox.urls.webSocket,
      tokenTransport: "query",
      auth: { mode: "supertokens", apiDomain: origin, apiBasePath: "/auth" },
      appName: "Chat",
      rateLimit: { burst: 10, perSecond: 2 },
    };
    expect(await (await fetch(sandbox.urls.config)).json()).toEqual(expected);
  });

  it("answers a sign-in at /auth/signin through the core, sending it the API key", async () => {
    const before = core.requests.length;
    const response = await post("/auth/signin", {
      formFields: [
        { id: "email", value: "ada@example.com" },
        { id: "password", value: "not-her-password-1" },
      ],
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: "WRONG_CREDENTIALS_ERROR" });
    const requests = core.requests.slice(before);
    expect(requests.map((request) => request.url)).toContainEqual(expect.stringContaining("/users/by-accountinfo"));
    for (const request of requests) expect(request.headers["api-key"]).toBe(API_KEY);
  });

  it("serves the JWKS route by asking the core, with the API key", async () => {
    const response = await fetch(sandbox.urls.jwks);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("application/json");
    const asked = core.requests.filter((request) => request.url?.startsWith("/.well-known/jwks.json"));
    expect(asked.length).toBeGreaterThan(0);
    for (const request of asked) expect(request.headers["api-key"]).toBe(API_KEY);
  });

  it("leaves routes SuperTokens does not serve to the page server (404), and has no development sign-in", async () => {
    expect((await fetch(new URL("/auth/nothing-here", origin))).status).toBe(404);
    // SuperTokens reads `/auth/dev/signin` as its own sign-in for a tenant "dev", and refuses the form.
    const devSignIn = await post("/auth/dev/signin", { name: "mallory" });
    expect(devSignIn.status).not.toBe(200);
    expect(await devSignIn.text()).not.toContain("accessToken");
  });

  it("names the core in its description and never the API key", () => {
    expect(sandbox.authDescription.join("\n")).toContain(`core ${core.url}`);
    expect(sandbox.authDescription.join("\n")).not.toContain(API_KEY);
    expect(sandbox.logLines.join("\n")).not.toContain(API_KEY);
  });

  it("answers 500 and logs why when the core cannot be reached, without the API key", async () => {
    await core.close();
    const response = await post("/auth/signin", {
      formFields: [
        { id: "email", value: "bob@example.com" },
        { id: "password", value: "whatever-1" },
      ],
    });
    expect(response.status).toBe(500);
    expect(sandbox.logLines.some((line) => /ERROR +page server \/auth\/signin failed/.test(line))).toBe(true);
    expect(sandbox.logLines.join("\n")).not.toContain(API_KEY);
  });

  it("refuses a second SuperTokens sandbox in the same process instead of sharing the first one's core", async () => {
    const second = startTestSandbox({ auth: { kind: "supertokens", connectionUri: "http://127.0.0.1:9" } });
    await expect(second).rejects.toBeInstanceOf(SandboxStartError);
    await expect(second).rejects.toThrow(/one SuperTokens-mode sandbox per process/);
  });
});
