import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SiteConfig } from "../../core/site-config.js";
import { signIn, startTestSandbox, type TestSandbox } from "../support/sandbox.js";

const decode = (part: string | undefined) =>
  JSON.parse(Buffer.from(part ?? "", "base64url").toString()) as Record<string, unknown>;

describe("page server with the development issuer", () => {
  let sandbox: TestSandbox;
  beforeAll(async () => {
    sandbox = await startTestSandbox({ auth: { kind: "development", tokenTtlSeconds: 120 } });
  });
  afterAll(() => sandbox.close());

  const post = (path: string, body: string) =>
    fetch(new URL(path, sandbox.urls.page), { method: "POST", headers: { "content-type": "application/json" }, body });

  it("serves config.json in the shape the deployed stack writes", async () => {
    const response = await fetch(sandbox.urls.config);
    expect(response.headers.get("cache-control")).toBe("no-store");
    const expected: SiteConfig = {
      webSocketUrl: sandbox.urls.webSocket,
      tokenTransport: "query",
      auth: { mode: "development", apiDomain: new URL(sandbox.urls.page).origin, apiBasePath: "/auth" },
      appName: "Chat",
      rateLimit: { burst: 10, perSecond: 2 },
    };
    expect(await response.json()).toEqual(expected);
    expect(sandbox.urls.webSocket).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/prod$/);
  });

  it("points the page at the loopback origin it was loaded from, and never at another host", async () => {
    const { port } = new URL(sandbox.urls.page);
    const apiDomainFor = async (host: string) => {
      const { request } = await import("node:http");
      return new Promise<string>((resolve, reject) => {
        const req = request(sandbox.urls.config, { headers: { Host: host } }, (res) => {
          let body = "";
          res.on("data", (chunk: Buffer) => {
            body += chunk.toString();
          });
          res.on("end", () => resolve((JSON.parse(body) as { auth: { apiDomain: string } }).auth.apiDomain));
        });
        req.on("error", reject);
        req.end();
      });
    };
    expect(await apiDomainFor(`localhost:${port}`)).toBe(`http://localhost:${port}`);
    expect(await apiDomainFor(`evil.example:${port}`)).toBe(`http://127.0.0.1:${port}`);
    expect(await apiDomainFor("localhost:1")).toBe(`http://127.0.0.1:${port}`);
  });

  it("signs in by name with a SuperTokens-shaped access token", async () => {
    const before = Math.floor(Date.now() / 1000);
    const body = await signIn(sandbox, "  Alice  ");
    expect(body.user).toEqual({ userId: expect.stringMatching(/^dev-[0-9a-f]{16}$/), name: "Alice" });

    const [header, payload] = body.accessToken.split(".");
    expect(decode(header)).toEqual({
      alg: "RS256",
      typ: "JWT",
      kid: expect.stringMatching(/^d-\d{13}$/),
      version: "5",
    });
    expect(decode(payload)).toEqual({
      sub: body.user.userId,
      iat: expect.any(Number),
      exp: body.expiresAt,
      tId: "public",
      rsub: body.user.userId,
      sessionHandle: expect.any(String),
      refreshTokenHash1: expect.stringMatching(/^[0-9a-f]{64}$/),
      parentRefreshTokenHash1: null,
      antiCsrfToken: null,
      iss: sandbox.urls.issuer,
      name: "Alice",
    });
    const { iat } = decode(payload) as { iat: number };
    expect(iat).toBeGreaterThanOrEqual(before);
    expect(body.expiresAt - iat).toBe(120);
    expect(sandbox.urls.issuer).toBe(`${new URL(sandbox.urls.page).origin}/auth`);
  });

  it("gives the same name the same user id whatever its case, and another name another id", async () => {
    const [a, b, c] = await Promise.all([signIn(sandbox, "alice"), signIn(sandbox, "ALICE"), signIn(sandbox, "bob")]);
    expect(a.user.userId).toBe(b.user.userId);
    expect(c.user.userId).not.toBe(a.user.userId);
    expect(a.accessToken).not.toBe(b.accessToken);
  });

  it.each([
    ["an empty name", JSON.stringify({ name: "   " }), 400, "invalid_name"],
    ["a name of 33 characters", JSON.stringify({ name: "n".repeat(33) }), 400, "invalid_name"],
    ["a name that is not a string", JSON.stringify({ name: 42 }), 400, "invalid_name"],
    ["a control character", JSON.stringify({ name: "a\u0007b" }), 400, "invalid_name"],
    ["a body that is not JSON", "name=alice", 400, "invalid_json"],
    ["a huge body", JSON.stringify({ name: "x".repeat(10_000) }), 413, "too_large"],
  ])("refuses %s with a JSON error", async (_label, body, status, error) => {
    const response = await post("/auth/dev/signin", body);
    expect(response.status).toBe(status);
    expect(await response.json()).toEqual({ error, message: expect.any(String) });
  });

  it("accepts a name of exactly 32 characters (counted as people count them)", async () => {
    expect((await signIn(sandbox, "é".repeat(32))).user.name).toBe("é".repeat(32));
  });

  it("answers 405 to a GET on the sign-in route and 404 to unknown auth routes", async () => {
    const get = await fetch(new URL("/auth/dev/signin", sandbox.urls.page));
    expect(get.status).toBe(405);
    expect(get.headers.get("allow")).toBe("POST");
    expect((await fetch(new URL("/auth/session/refresh", sandbox.urls.page))).status).toBe(404);
  });

  it("serves a SuperTokens-shaped JWKS with SuperTokens' caching header", async () => {
    const response = await fetch(sandbox.urls.jwks);
    expect(sandbox.urls.jwks).toBe(`${sandbox.urls.issuer}/jwt/jwks.json`);
    expect(response.headers.get("cache-control")).toBe("max-age=60, must-revalidate");
    const { keys } = (await response.json()) as { keys: Record<string, unknown>[] };
    const { accessToken } = await signIn(sandbox, "carol");
    expect(keys).toEqual([
      {
        kty: "RSA",
        kid: decode(accessToken.split(".")[0]).kid,
        n: expect.any(String),
        e: "AQAB",
        alg: "RS256",
        use: "sig",
      },
    ]);
  });

  it("serves a placeholder page that says the page is not built", async () => {
    const response = await fetch(sandbox.urls.page);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("text/html");
    const html = await response.text();
    expect(html).toContain("not built");
    expect(html).toContain("DEVELOPMENT issuer");
    expect(html).toContain(sandbox.urls.webSocket);
    expect((await fetch(new URL("/nothing-here", sandbox.urls.page))).status).toBe(404);
  });
});

describe("page server with a built page", () => {
  let sandbox: TestSandbox;
  let webRoot: string;
  beforeAll(async () => {
    webRoot = await mkdtemp(join(tmpdir(), "sandbox-web-test-"));
    await mkdir(join(webRoot, "assets"));
    await writeFile(join(webRoot, "index.html"), "<!doctype html><title>Chat</title>");
    await writeFile(join(webRoot, "assets", "main-ABC123.js"), "console.log('chat')");
    await writeFile(join(webRoot, "assets", "main-ABC123.css"), "body{}");
    sandbox = await startTestSandbox({ webRoot });
  });
  afterAll(async () => {
    await sandbox.close();
    await rm(webRoot, { recursive: true, force: true });
  });

  it.each([
    ["/", "text/html; charset=utf-8", "<!doctype html><title>Chat</title>"],
    ["/index.html", "text/html; charset=utf-8", "<!doctype html><title>Chat</title>"],
    ["/assets/main-ABC123.js", "text/javascript; charset=utf-8", "console.log('chat')"],
    ["/assets/main-ABC123.css", "text/css; charset=utf-8", "body{}"],
  ])("serves %s", async (path, type, body) => {
    const response = await fetch(new URL(path, sandbox.urls.page));
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe(type);
    expect(await response.text()).toBe(body);
  });

  it.each(["/../package.json", "/%2e%2e/package.json", "/assets/..%2f..%2fpackage.json", "/missing.js"])(
    "finds nothing at %s",
    async (path) => {
      // fetch would normalise the dots away: send the path as written.
      const { request } = await import("node:http");
      const status = await new Promise<number>((resolve, reject) => {
        const req = request(new URL(sandbox.urls.page), { path, method: "GET" }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on("error", reject);
        req.end();
      });
      expect(status).toBe(404);
    },
  );

  it("still serves config.json and the auth routes next to the page", async () => {
    expect((await fetch(sandbox.urls.config)).status).toBe(200);
    expect((await fetch(sandbox.urls.jwks)).status).toBe(200);
  });
});
