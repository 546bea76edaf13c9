import { describe, expect, it } from "vitest";
import { TokenRejectedError } from "../../core/errors.js";
import { handshakeResponseHeaders, tokenFromHandshake } from "../../core/token-transport.js";

describe("token transport", () => {
  it("reads the token from the query string", () => {
    expect(tokenFromHandshake({ queryStringParameters: { token: "abc" } })).toBe("abc");
  });

  it("reads the token from the subprotocol list, whatever the header's case", () => {
    const headers = { "sec-websocket-protocol": "supertokens-chat, eyJ.a.b" };
    expect(tokenFromHandshake({ headers })).toBe("eyJ.a.b");
    expect(handshakeResponseHeaders(headers)).toEqual({ "Sec-WebSocket-Protocol": "supertokens-chat" });
  });

  it("ignores subprotocols of other applications", () => {
    const headers = { "Sec-WebSocket-Protocol": "graphql-ws" };
    expect(tokenFromHandshake({ headers })).toBeUndefined();
    expect(handshakeResponseHeaders(headers)).toBeUndefined();
  });

  it.each([
    [
      "twice in the query",
      { multiValueQueryStringParameters: { token: ["a", "b"] }, queryStringParameters: { token: "b" } },
    ],
    [
      "in the query and the subprotocol",
      { queryStringParameters: { token: "a" }, headers: { "Sec-WebSocket-Protocol": "supertokens-chat, b" } },
    ],
    ["twice in the subprotocol", { headers: { "Sec-WebSocket-Protocol": "supertokens-chat, a, b" } }],
  ])("refuses a token given %s", (_name, request) => {
    expect(() => tokenFromHandshake(request)).toThrow(TokenRejectedError);
  });
});
