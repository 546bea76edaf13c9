import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as jose from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MessageFrame } from "../../core/protocol.js";
import { SandboxEnv } from "../../sandbox/cli-options.js";
import { type StandIn, superTokensCore } from "../auth/stand-ins.js";
import { openClient, refusedStatus } from "../support/ws-client.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

interface Cli {
  child: ChildProcess;
  output: () => string;
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** `npm run dev` is `node --import tsx sandbox/main.ts`: run exactly that, with the given environment. */
function runCli(env: Record<string, string>): Cli {
  const child = spawn(process.execPath, ["--import", "tsx", "sandbox/main.ts"], {
    cwd: ROOT,
    // The sandbox's own variables are cleared, so settings of the machine running the tests cannot leak in.
    env: {
      ...process.env,
      ...Object.fromEntries(Object.values(SandboxEnv).map((name) => [name, ""])),
      PORT: "0",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const listeners = new Set<() => void>();
  const append = (chunk: Buffer) => {
    output += chunk.toString();
    for (const listener of listeners) listener();
  };
  child.stdout?.on("data", append);
  child.stderr?.on("data", append);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    output: () => output,
    exited,
    waitFor: (pattern, timeoutMs = 20_000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const match = output.match(pattern);
          if (!match) return;
          cleanup();
          resolve(match);
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`no ${pattern} within ${timeoutMs} ms; output:\n${output}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        void exited.then(() =>
          setImmediate(() => {
            if (listeners.has(check)) {
              cleanup();
              reject(new Error(`exited before printing ${pattern}; output:\n${output}`));
            }
          }),
        );
        listeners.add(check);
        check();
      }),
  };
}

/**
 * Starting means loading tsx, the AWS SDK (and supertokens-node) on a machine other test files keep busy: a hang guard,
 * not a speed check.
 */
const START_TIMEOUT_MS = 60_000;
const TEST_TIMEOUT_MS = 90_000;

const url = (output: string, label: string) => output.match(new RegExp(`${label}:\\s+(\\S+)`))?.[1] ?? "";

describe("npm run dev", () => {
  it(
    "builds the page, prints every URL, serves the chat, and exits 0 on Ctrl-C",
    async () => {
      const cli = runCli({});
      try {
        await cli.waitFor(/Press Ctrl-C to stop/, START_TIMEOUT_MS);
        const output = cli.output();
        for (const label of ["Page", "Config", "WebSocket", "Management API", "JWKS"]) {
          expect(url(output, label)).toMatch(/^(http|ws):\/\/127\.0\.0\.1:\d+\//);
        }
        expect(output).toMatch(/DEVELOPMENT issuer/);

        const config = (await (await fetch(url(output, "Config"))).json()) as { webSocketUrl: string };
        expect(config.webSocketUrl).toBe(url(output, "WebSocket"));
        const page = await fetch(url(output, "Page"));
        expect(page.status).toBe(200);
        expect(await page.text()).not.toContain("not built");

        const signIn = await fetch(new URL("auth/dev/signin", url(output, "Page")), {
          method: "POST",
          body: JSON.stringify({ name: "cli" }),
        });
        const { accessToken } = (await signIn.json()) as { accessToken: string };
        const client = await openClient(config.webSocketUrl, { token: accessToken });
        await cli.waitFor(/connect +cli \(dev-[0-9a-f]+\)/);

        cli.child.kill("SIGINT");
        expect(await cli.exited).toEqual({ code: 0, signal: null });
        expect((await client.closed).code).toBe(1001);
        expect(cli.output()).toMatch(/Stopped\./);
        expect(cli.output()).not.toContain(accessToken);
      } finally {
        cli.child.kill("SIGKILL");
      }
    },
    TEST_TIMEOUT_MS,
  );
});

describe("npm run dev with a setting it cannot honour", () => {
  let webRoot: string;
  beforeAll(async () => {
    // A prebuilt (empty) page, so this run skips the build. Every other bad setting is covered by cli-options.test.ts.
    webRoot = await mkdtemp(join(tmpdir(), "sandbox-cli-test-"));
  });
  afterAll(() => rm(webRoot, { recursive: true, force: true }));

  it("exits 2 with a message, not a stack trace, for a SuperTokens core that is not a URL", async () => {
    const cli = runCli({ WEB_ROOT: webRoot, SUPERTOKENS_CONNECTION_URI: "try.supertokens.com" });
    expect((await cli.exited).code).toBe(2);
    expect(cli.output()).toMatch(/Error: SUPERTOKENS_CONNECTION_URI must be http\(s\) URLs/);
    expect(cli.output()).not.toMatch(/\n\s+at /);
  });
});

describe("npm run dev with a SuperTokens core", () => {
  let webRoot: string;
  let core: StandIn;
  beforeAll(async () => {
    webRoot = await mkdtemp(join(tmpdir(), "sandbox-cli-test-"));
    core = await superTokensCore();
  });
  afterAll(async () => {
    await core.close();
    await rm(webRoot, { recursive: true, force: true });
  });

  it(
    "serves SuperTokens at /auth, trusts its JWKS, and prints the core's URL but never the API key",
    async () => {
      const apiKey = "cli-secret-api-key-5b1e";
      const cli = runCli({
        WEB_ROOT: webRoot,
        SUPERTOKENS_CONNECTION_URI: core.url,
        SUPERTOKENS_API_KEY: apiKey,
      });
      try {
        await cli.waitFor(/Press Ctrl-C to stop/, START_TIMEOUT_MS);
        const page = url(cli.output(), "Page");
        expect(url(cli.output(), "JWKS")).toBe(new URL("auth/jwt/jwks.json", page).href);
        expect(cli.output()).toContain(`core ${core.url}`);
        expect(cli.output()).not.toMatch(/DEVELOPMENT issuer/);

        const signIn = await fetch(new URL("auth/signin", page), {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({
            formFields: [
              { id: "email", value: "ada@example.com" },
              { id: "password", value: "x1" },
            ],
          }),
        });
        expect(await signIn.json()).toEqual({ status: "WRONG_CREDENTIALS_ERROR" });
        cli.child.kill("SIGINT");
        expect((await cli.exited).code).toBe(0);
        expect(cli.output()).not.toContain(apiKey);
      } finally {
        cli.child.kill("SIGKILL");
      }
    },
    TEST_TIMEOUT_MS,
  );
});

describe("npm run dev trusting an issuer that no code in this repository wrote", () => {
  // jose signs the tokens and makes the JWKS, exactly as a third-party SuperTokens-compatible issuer would.
  let webRoot: string;
  let jwksServer: Server;
  let issuer: string;
  let key: CryptoKey;
  let impostor: CryptoKey;
  const kid = "s-jose-0001";

  beforeAll(async () => {
    webRoot = await mkdtemp(join(tmpdir(), "sandbox-cli-test-"));
    const pair = await jose.generateKeyPair("RS256");
    key = pair.privateKey;
    ({ privateKey: impostor } = await jose.generateKeyPair("RS256"));
    const publicJwk = { ...(await jose.exportJWK(pair.publicKey)), kid, alg: "RS256", use: "sig" };
    jwksServer = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: [publicJwk] }));
    });
    await new Promise<void>((resolve) => jwksServer.listen(0, "127.0.0.1", resolve));
    issuer = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/auth`;
  });
  afterAll(async () => {
    await new Promise((resolve) => jwksServer.close(resolve));
    await rm(webRoot, { recursive: true, force: true });
  });

  /** A SuperTokens-shaped session access token, signed by jose. */
  const token = (sub: string, signingKey = key, expiresIn = "1h") =>
    new jose.SignJWT({
      sessionHandle: `handle-${sub}`,
      tId: "public",
      rsub: sub,
      refreshTokenHash1: "hash",
      parentRefreshTokenHash1: null,
      antiCsrfToken: null,
      email: `${sub}@example.com`,
    })
      .setProtectedHeader({ alg: "RS256", typ: "JWT", kid, version: "5" })
      .setSubject(sub)
      .setIssuer(issuer)
      .setIssuedAt()
      .setExpirationTime(expiresIn)
      .sign(signingKey);

  it(
    "lets its users connect and chat, and refuses tokens it did not sign or that have expired",
    async () => {
      const cli = runCli({ WEB_ROOT: webRoot, AUTH_JWKS_URI: `${issuer}/jwt/jwks.json`, AUTH_ISSUER: issuer });
      try {
        await cli.waitFor(/Press Ctrl-C to stop/, START_TIMEOUT_MS);
        const { webSocketUrl } = (await (await fetch(url(cli.output(), "Config"))).json()) as { webSocketUrl: string };
        const ada = await openClient(webSocketUrl, { token: await token("ada") });
        const bob = await openClient(webSocketUrl, { token: await token("bob") });
        ada.send({ action: "sendmessage", text: "hello from a jose token" });
        const heard = (await bob.waitFor((f) => (f as MessageFrame).type === "message")) as MessageFrame;
        expect(heard).toMatchObject({
          text: "hello from a jose token",
          sender: { userId: "ada", name: "ada@example.com" },
        });

        expect(await refusedStatus(webSocketUrl, { token: await token("eve", impostor) })).toBe(401);
        expect(await refusedStatus(webSocketUrl, { token: await token("eve", key, "-1m") })).toBe(401);
        await Promise.all([ada.close(), bob.close()]);
        cli.child.kill("SIGINT");
        expect((await cli.exited).code).toBe(0);
      } finally {
        cli.child.kill("SIGKILL");
      }
    },
    TEST_TIMEOUT_MS,
  );
});
