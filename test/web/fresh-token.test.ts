import { describe, expect, it, vi } from "vitest";
import { getFreshToken } from "../../web/src/auth/fresh-token.js";

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
const now = 1_800_000_000_000;
const tokenExpiringIn = (seconds: number, tag = "") => `h.${b64url({ exp: now / 1000 + seconds, tag })}.s`;

/** A fake session: `read` gives the current token, `refresh` swaps in the next one. */
function session(tokens: (string | undefined)[], refreshResult = true) {
  let current = tokens.shift();
  const read = vi.fn(async () => current);
  const refresh = vi.fn(async () => {
    if (refreshResult) current = tokens.shift();
    return refreshResult;
  });
  return { read, refresh, now: () => now };
}

describe("getFreshToken", () => {
  it("returns a token with more than a minute left as is, without refreshing", async () => {
    const fresh = tokenExpiringIn(600);
    const source = session([fresh]);
    await expect(getFreshToken(source)).resolves.toBe(fresh);
    expect(source.refresh).not.toHaveBeenCalled();
  });

  it("refreshes first when the token expires within a minute (getAccessToken alone would not)", async () => {
    const stale = tokenExpiringIn(30, "old");
    const renewed = tokenExpiringIn(3600, "new");
    const source = session([stale, renewed]);
    await expect(getFreshToken(source)).resolves.toBe(renewed);
    expect(source.refresh).toHaveBeenCalledTimes(1);
    expect(source.read).toHaveBeenCalledTimes(2);
  });

  it("refreshes when forced, even if the token looks fresh (the server just refused it)", async () => {
    const source = session([tokenExpiringIn(3600, "a"), tokenExpiringIn(3600, "b")]);
    await expect(getFreshToken(source, true)).resolves.toContain(b64url({ exp: now / 1000 + 3600, tag: "b" }));
    expect(source.refresh).toHaveBeenCalledTimes(1);
  });

  it("is signed out when there is no token, without trying to refresh", async () => {
    const source = session([undefined]);
    await expect(getFreshToken(source)).resolves.toBeUndefined();
    expect(source.refresh).not.toHaveBeenCalled();
  });

  it("is signed out when the refresh finds no session", async () => {
    const source = session([tokenExpiringIn(10)], false);
    await expect(getFreshToken(source)).resolves.toBeUndefined();
  });

  it("takes what one refresh gives, even if short-lived, instead of refreshing in a loop", async () => {
    const short = tokenExpiringIn(30, "short");
    const source = session([tokenExpiringIn(10), short]);
    await expect(getFreshToken(source)).resolves.toBe(short);
    expect(source.refresh).toHaveBeenCalledTimes(1);
  });

  it("lets transient refresh failures reach the caller, which retries", async () => {
    const source = session([tokenExpiringIn(10)]);
    source.refresh.mockRejectedValueOnce(new Error("network down"));
    await expect(getFreshToken(source)).rejects.toThrow("network down");
  });
});
