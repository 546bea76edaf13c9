import { describe, expect, it } from "vitest";
import { Limits } from "../../core/protocol.js";
import { parseConfig } from "../../web/src/config.js";
import {
  codePointLength,
  historyFrame,
  joinFrame,
  leaveFrame,
  parseServerFrame,
  sendMessageFrame,
  textProblem,
} from "../../web/src/frames.js";

describe("parseServerFrame", () => {
  const message = {
    type: "message",
    room: "design",
    id: "000000000042",
    sender: { userId: "u1", name: "Ann" },
    text: "hi",
    sentAt: "2026-11-29T06:30:00.000Z",
  };

  it("accepts every frame of the protocol", () => {
    expect(parseServerFrame(JSON.stringify(message))).toEqual(message);
    expect(parseServerFrame('{"type":"error","code":"rate_limited","message":"slow down"}')).toEqual({
      type: "error",
      code: "rate_limited",
      message: "slow down",
    });
    expect(parseServerFrame('{"type":"error","code":"not_a_member","message":"Join first.","room":"ops"}')).toEqual({
      type: "error",
      code: "not_a_member",
      message: "Join first.",
      room: "ops",
    });
    expect(parseServerFrame('{"type":"refreshed","expiresAt":1900000000}')).toEqual({
      type: "refreshed",
      expiresAt: 1_900_000_000,
    });
    const history = { type: "history", room: "design", messages: [message], hasMore: true };
    expect(parseServerFrame(JSON.stringify(history))).toEqual(history);
    const users = [{ userId: "u1", name: "Ann" }, { userId: "u2" }];
    const presence = { type: "presence", room: "design", users, version: 7 };
    expect(parseServerFrame(JSON.stringify(presence))).toEqual(presence);
    for (const type of ["joined", "left"]) {
      const change = { type, room: "design", user: { userId: "u2", name: "Bob" }, version: 8 };
      expect(parseServerFrame(JSON.stringify(change))).toEqual(change);
    }
  });

  it("takes presence frames without a usable version (a server from before versions) as unversioned", () => {
    const change = { type: "joined", room: "design", user: { userId: "u2" } };
    expect(parseServerFrame(JSON.stringify(change))).toEqual(change);
    for (const version of [-1, 1.5, "8", null]) {
      expect(parseServerFrame(JSON.stringify({ ...change, version }))).toEqual(change);
    }
    const presence = { type: "presence", room: "design", users: [] };
    expect(parseServerFrame(JSON.stringify(presence))).toEqual(presence);
  });

  it("drops an empty sender name, so the page falls back to the user id", () => {
    const frame = parseServerFrame(JSON.stringify({ ...message, sender: { userId: "u1", name: "" } }));
    expect(frame).toEqual({ ...message, sender: { userId: "u1" } });
  });

  it("files a message without a room (a server from before rooms) under the lobby", () => {
    const { room: _room, ...withoutRoom } = message;
    expect(parseServerFrame(JSON.stringify(withoutRoom))).toEqual({ ...message, room: "lobby" });
  });

  it("keeps the good messages of a history frame and drops the rest", () => {
    const frame = parseServerFrame(
      JSON.stringify({
        type: "history",
        room: "design",
        messages: [message, { ...message, id: "43" }, { ...message, id: "000000000044", room: "ops" }, null],
        hasMore: false,
      }),
    );
    expect(frame).toEqual({ type: "history", room: "design", messages: [message], hasMore: false });
  });

  it("recognises API Gateway's own error frames, which have no type", () => {
    const ids = { connectionId: "AbCdEfGhIjKlMnO=", requestId: "PqRsTuVwXyZaBcD=" };
    expect(parseServerFrame(JSON.stringify({ message: "Too Many Requests", ...ids }))).toEqual({
      type: "gateway-error",
      reason: "throttled",
      message: "Too Many Requests",
    });
    expect(parseServerFrame(JSON.stringify({ message: "Internal server error", ...ids }))).toMatchObject({
      type: "gateway-error",
      reason: "failed",
    });
    expect(parseServerFrame(JSON.stringify({ message: "Endpoint request timed out", ...ids }))).toMatchObject({
      type: "gateway-error",
      reason: "timed-out",
    });
  });

  it.each([
    ["not JSON", "<b>"],
    ["binary", new ArrayBuffer(2)],
    ["an array", "[]"],
    ["an unknown type", '{"type":"typing","room":"lobby"}'],
    ["a message without sender", JSON.stringify({ ...message, sender: undefined })],
    ["a message with a numeric text", JSON.stringify({ ...message, text: 1 })],
    ["a message with an id that is not the server's", JSON.stringify({ ...message, id: "01J" })],
    ["a message for an invalid room", JSON.stringify({ ...message, room: "Not A Room" })],
    ["a history frame without hasMore", '{"type":"history","room":"design","messages":[]}'],
    ["a presence frame without room", '{"type":"presence","users":[]}'],
    ["a joined frame without user", '{"type":"joined","room":"design"}'],
    ["an error without message", '{"type":"error","code":"x"}'],
    ["refreshed without expiresAt", '{"type":"refreshed"}'],
    ["an untyped frame with other words", '{"message":"Something else","requestId":"x"}'],
    ["an untyped frame named like an object's own key", '{"message":"constructor"}'],
  ])("ignores %s", (_, data) => {
    expect(parseServerFrame(data)).toBeUndefined();
  });
});

describe("text checks", () => {
  it("counts code points like the server", () => {
    expect(codePointLength("🦊🦊")).toBe(2);
    expect("🦊🦊".length).toBe(4);
  });

  it("refuses empty and too long text, with words for people", () => {
    expect(textProblem("   \n ")).toMatch(/Type a message/);
    expect(textProblem("🦊".repeat(Limits.maxTextLength))).toBeUndefined();
    expect(textProblem(`  ${"a".repeat(Limits.maxTextLength)}  `)).toBeUndefined(); // trimmed first
    expect(textProblem("a".repeat(Limits.maxTextLength + 1))).toMatch(/limit is 2000/);
  });

  it("builds the room frames", () => {
    expect(joinFrame("design")).toEqual({ action: "join", room: "design" });
    expect(joinFrame("design", "000000000042")).toEqual({ action: "join", room: "design", after: "000000000042" });
    expect(leaveFrame("design")).toEqual({ action: "leave", room: "design" });
    expect(historyFrame("design", { before: "000000000042" })).toEqual({
      action: "history",
      room: "design",
      before: "000000000042",
    });
  });

  it("builds the sendmessage frame with trimmed text", () => {
    expect(sendMessageFrame("design", "  hi\nthere ")).toEqual({
      action: "sendmessage",
      room: "design",
      text: "hi\nthere",
    });
  });
});

describe("parseConfig", () => {
  const valid = {
    webSocketUrl: "ws://127.0.0.1:3001/prod",
    auth: { mode: "development", apiDomain: "http://127.0.0.1:3000", apiBasePath: "/auth" },
    appName: "Chat",
    rateLimit: { burst: 20, perSecond: 0.5 },
  };

  it("accepts the documented shape", () => {
    expect(parseConfig(valid)).toEqual({ ...valid, tokenTransport: "query" });
    expect(parseConfig({ ...valid, tokenTransport: "subprotocol" }).tokenTransport).toBe("subprotocol");
    expect(parseConfig({ ...valid, appName: undefined }).appName).toBe("Chat");
  });

  it("paces by the protocol's default rate limit when the config has none or a nonsensical one", () => {
    for (const rateLimit of [undefined, { burst: 0, perSecond: "fast" }]) {
      expect(parseConfig({ ...valid, rateLimit }).rateLimit).toEqual({ burst: 10, perSecond: 2 });
    }
  });

  it.each([
    ["an http URL for the socket", { ...valid, webSocketUrl: "http://x" }],
    ["an unknown auth mode", { ...valid, auth: { ...valid.auth, mode: "magic" } }],
    ["no apiDomain", { ...valid, auth: { mode: "supertokens", apiBasePath: "/auth" } }],
    ["an unknown token transport", { ...valid, tokenTransport: "cookie" }],
    ["null", null],
  ])("refuses %s", (_, value) => {
    expect(() => parseConfig(value)).toThrow(/config\.json/);
  });
});
