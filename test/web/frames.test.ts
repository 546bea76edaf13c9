import { describe, expect, it } from "vitest";
import { Limits } from "../../core/protocol.js";
import { parseConfig } from "../../web/src/config.js";
import { codePointLength, parseServerFrame, sendMessageFrame, textProblem } from "../../web/src/frames.js";

describe("parseServerFrame", () => {
  it("accepts message, error and refreshed frames", () => {
    const message = { type: "message", id: "01J", sender: { userId: "u1", name: "Ann" }, text: "hi", sentAt: "t" };
    expect(parseServerFrame(JSON.stringify(message))).toEqual(message);
    expect(parseServerFrame('{"type":"error","code":"rate_limited","message":"slow down"}')).toEqual({
      type: "error",
      code: "rate_limited",
      message: "slow down",
    });
    expect(parseServerFrame('{"type":"refreshed","expiresAt":1900000000}')).toEqual({
      type: "refreshed",
      expiresAt: 1_900_000_000,
    });
  });

  it("drops an empty sender name, so the page falls back to the user id", () => {
    const frame = parseServerFrame(
      '{"type":"message","id":"1","sender":{"userId":"u1","name":""},"text":"x","sentAt":"t"}',
    );
    expect(frame).toEqual({ type: "message", id: "1", sender: { userId: "u1" }, text: "x", sentAt: "t" });
  });

  it.each([
    ["not JSON", "<b>"],
    ["binary", new ArrayBuffer(2)],
    ["an array", "[]"],
    ["an unknown type", '{"type":"presence","users":[]}'],
    ["a message without sender", '{"type":"message","id":"1","text":"x","sentAt":"t"}'],
    ["a message with a numeric text", '{"type":"message","id":"1","sender":{"userId":"u"},"text":1,"sentAt":"t"}'],
    ["an error without message", '{"type":"error","code":"x"}'],
    ["refreshed without expiresAt", '{"type":"refreshed"}'],
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

  it("builds the sendmessage frame with trimmed text", () => {
    expect(sendMessageFrame("  hi\nthere ")).toEqual({ action: "sendmessage", text: "hi\nthere" });
  });
});

describe("parseConfig", () => {
  const valid = {
    webSocketUrl: "ws://127.0.0.1:3001/prod",
    auth: { mode: "development", apiDomain: "http://127.0.0.1:3000", apiBasePath: "/auth" },
    appName: "Chat",
  };

  it("accepts the documented shape", () => {
    expect(parseConfig(valid)).toEqual({ ...valid, tokenTransport: "query" });
    expect(parseConfig({ ...valid, tokenTransport: "subprotocol" }).tokenTransport).toBe("subprotocol");
    expect(parseConfig({ ...valid, appName: undefined }).appName).toBe("Chat");
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
