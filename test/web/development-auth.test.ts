import { describe, expect, it, vi } from "vitest";
import { TransientAuthError } from "../../web/src/auth/auth.js";
import { DevelopmentAuth } from "../../web/src/auth/development.js";

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
const tokenExpiringIn = (seconds: number, n = 0) =>
  `h.${b64url({ sub: "dev-1", n, exp: Math.floor(Date.now() / 1000) + seconds })}.s`;

class MemoryStorage implements Storage {
  private data = new Map<string, string>();
  get length() {
    return this.data.size;
  }
  clear() {
    this.data.clear();
  }
  getItem(key: string) {
    return this.data.get(key) ?? null;
  }
  key(index: number) {
    return [...this.data.keys()][index] ?? null;
  }
  removeItem(key: string) {
    this.data.delete(key);
  }
  setItem(key: string, value: string) {
    this.data.set(key, value);
  }
}

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

function setup(responses: (Response | Error)[]) {
  const fetchImpl = vi.fn(async (_url: string | URL | Request, _init?: RequestInit) => {
    const next = responses.shift();
    if (!next) throw new Error("unexpected fetch");
    if (next instanceof Error) throw next;
    return next;
  });
  const storage = new MemoryStorage();
  const auth = new DevelopmentAuth(
    { mode: "development", apiDomain: "http://127.0.0.1:3000", apiBasePath: "/auth" },
    storage,
    fetchImpl as typeof fetch,
  );
  return { auth, fetchImpl, storage };
}

const signedIn = (token: string) =>
  json(200, { accessToken: token, expiresAt: 0, user: { userId: "dev-1", name: "alice" } });

describe("DevelopmentAuth", () => {
  it("signs in with a name and keeps the session", async () => {
    const token = tokenExpiringIn(3600);
    const { auth, fetchImpl } = setup([signedIn(token)]);
    await expect(auth.signIn({ name: "  alice " })).resolves.toEqual({
      ok: true,
      user: { userId: "dev-1", name: "alice" },
    });
    const [url, init] = fetchImpl.mock.calls[0] ?? [];
    expect(url).toBe("http://127.0.0.1:3000/auth/dev/signin");
    expect(init?.body).toBe('{"name":"alice"}');
    await expect(auth.currentUser()).resolves.toEqual({ userId: "dev-1", name: "alice" });
    await expect(auth.getFreshToken()).resolves.toBe(token);
    expect(fetchImpl).toHaveBeenCalledTimes(1);
  });

  it("shows the sandbox's 400 message on the name field", async () => {
    const { auth } = setup([json(400, { message: '"name" must be 1 to 32 characters long.' })]);
    await expect(auth.signIn({ name: "x".repeat(40) })).resolves.toEqual({
      ok: false,
      fieldErrors: { name: '"name" must be 1 to 32 characters long.' },
    });
    await expect(auth.currentUser()).resolves.toBeUndefined();
  });

  it("does not call the sandbox for an empty name", async () => {
    const { auth, fetchImpl } = setup([]);
    await expect(auth.signIn({ name: "  " })).resolves.toMatchObject({
      ok: false,
      fieldErrors: { name: expect.any(String) },
    });
    expect(fetchImpl).not.toHaveBeenCalled();
  });

  it("says so when the sandbox cannot be reached", async () => {
    const { auth } = setup([new TypeError("Failed to fetch")]);
    await expect(auth.signIn({ name: "alice" })).resolves.toMatchObject({ ok: false, message: /reach the sandbox/ });
  });

  it("renews a token that expires within a minute by signing in again under the same name", async () => {
    const renewed = tokenExpiringIn(3600, 2);
    const { auth, fetchImpl } = setup([signedIn(tokenExpiringIn(30, 1)), signedIn(renewed)]);
    await auth.signIn({ name: "alice" });
    await expect(auth.getFreshToken()).resolves.toBe(renewed);
    expect(fetchImpl.mock.calls[1]?.[1]?.body).toBe('{"name":"alice"}');
  });

  it("renews when forced even if the token looks fresh", async () => {
    const renewed = tokenExpiringIn(3600, 2);
    const { auth } = setup([signedIn(tokenExpiringIn(3600, 1)), signedIn(renewed)]);
    await auth.signIn({ name: "alice" });
    await expect(auth.getFreshToken({ forceRefresh: true })).resolves.toBe(renewed);
  });

  it("treats an unreachable sandbox during renewal as transient, not as signed out", async () => {
    const { auth } = setup([signedIn(tokenExpiringIn(30)), new TypeError("Failed to fetch")]);
    await auth.signIn({ name: "alice" });
    await expect(auth.getFreshToken()).rejects.toBeInstanceOf(TransientAuthError);
    await expect(auth.currentUser()).resolves.toMatchObject({ name: "alice" });
  });

  it("is signed out once the sandbox refuses the renewal", async () => {
    const { auth } = setup([signedIn(tokenExpiringIn(30)), json(400, { message: "no" })]);
    await auth.signIn({ name: "alice" });
    await expect(auth.getFreshToken()).resolves.toBeUndefined();
    await expect(auth.currentUser()).resolves.toBeUndefined();
  });

  it("forgets the session on sign-out", async () => {
    const { auth } = setup([signedIn(tokenExpiringIn(3600))]);
    await auth.signIn({ name: "alice" });
    await auth.signOut();
    await expect(auth.currentUser()).resolves.toBeUndefined();
    await expect(auth.getFreshToken()).resolves.toBeUndefined();
  });
});
