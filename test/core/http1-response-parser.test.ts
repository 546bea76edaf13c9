import { describe, expect, it } from "vitest";
import { ChatError } from "../../core/errors.js";
import { type Http1Response, Http1ResponseParser, HttpProtocolError } from "../../core/http1-response-parser.js";

// Answers are written as they travel: lines joined by CRLF.
const crlf = (...lines: string[]) => lines.join("\r\n");
const bytes = (text: string) => Buffer.from(text, "utf8");

/** Feeds `pieces` one after another; returns what each push gave. */
function feed(parser: Http1ResponseParser, pieces: Buffer[]): (Http1Response | undefined)[] {
  return pieces.map((piece) => parser.push(piece));
}

/** The one answer got from feeding `pieces`, checking that only the last push gave it. */
function onlyAtTheEnd(pieces: Buffer[]): Http1Response | undefined {
  const parser = new Http1ResponseParser();
  const results = feed(parser, pieces);
  const last = results.pop();
  expect(results.every((result) => result === undefined)).toBe(true);
  expect(parser.started).toBe(false);
  expect(parser.hasLeftover).toBe(false);
  return last;
}

/** A comparable view of an answer. */
const plain = (response: Http1Response | undefined) =>
  response && {
    status: response.status,
    headers: Object.fromEntries(response.headers),
    body: response.body,
    closing: response.closing,
  };

const parseOne = (text: string | Buffer) =>
  new Http1ResponseParser().push(typeof text === "string" ? bytes(text) : text);

const protocolError = (run: () => unknown, detail?: RegExp) => {
  let caught: unknown;
  try {
    run();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(HttpProtocolError);
  expect(caught).toBeInstanceOf(ChatError);
  expect((caught as Error).message).toMatch(/^not an HTTP\/1\.1 answer: /);
  if (detail) expect((caught as Error).message).toMatch(detail);
};

const API_GATEWAY_OK = crlf(
  "HTTP/1.1 200 OK",
  "Date: Tue, 02 Jun 2026 10:00:00 GMT",
  "Content-Type: application/json",
  "Content-Length: 0",
  "Connection: keep-alive",
  "x-amzn-RequestId: 8d0c7a4b-1111-2222-3333-444455556666",
  "x-amz-apigw-id: AbCdEfGhIjKlMnO=",
  "",
  "",
);

const GONE_BODY = '{"message":"Gone"}';
const GONE = crlf(
  "HTTP/1.1 410 Gone",
  "Content-Type: application/json",
  `Content-Length: ${GONE_BODY.length}`,
  "x-amzn-ErrorType: GoneException",
  "x-amzn-RequestId: 0f0f0f0f-aaaa-bbbb-cccc-dddddddddddd",
  "",
  GONE_BODY,
);

const CHUNKED = crlf(
  "HTTP/1.1 200 OK",
  "Transfer-Encoding: chunked",
  "Content-Type: text/plain",
  "",
  "5;name=value",
  "hello",
  '1 ; quoted="a;b"',
  ",",
  "6",
  " world",
  "0;last",
  "X-Checksum: abc",
  "X-Other: 1",
  "",
  "",
);

const CONTINUE_THEN_OK = crlf("HTTP/1.1 100 Continue", "", "HTTP/1.1 200 OK", "Content-Length: 11", "", '{"ok":true}');

const SAMPLES: { name: string; text: string; expected: ReturnType<typeof plain> }[] = [
  {
    name: "an answer with a Content-Length body",
    text: GONE,
    expected: {
      status: 410,
      headers: {
        "content-type": "application/json",
        "content-length": String(GONE_BODY.length),
        "x-amzn-errortype": "GoneException",
        "x-amzn-requestid": "0f0f0f0f-aaaa-bbbb-cccc-dddddddddddd",
      },
      body: GONE_BODY,
      closing: false,
    },
  },
  {
    name: "a chunked answer with chunk extensions and trailers",
    text: CHUNKED,
    expected: {
      status: 200,
      headers: { "transfer-encoding": "chunked", "content-type": "text/plain" },
      body: "hello, world",
      closing: false,
    },
  },
  {
    name: "100 Continue followed by the real answer",
    text: CONTINUE_THEN_OK,
    expected: {
      status: 200,
      headers: { "content-length": "11" },
      body: '{"ok":true}',
      closing: false,
    },
  },
  {
    name: "a typical API Gateway 200 without a body",
    text: API_GATEWAY_OK,
    expected: {
      status: 200,
      headers: {
        date: "Tue, 02 Jun 2026 10:00:00 GMT",
        "content-type": "application/json",
        "content-length": "0",
        connection: "keep-alive",
        "x-amzn-requestid": "8d0c7a4b-1111-2222-3333-444455556666",
        "x-amz-apigw-id": "AbCdEfGhIjKlMnO=",
      },
      body: "",
      closing: false,
    },
  },
];

describe("Http1ResponseParser: typical API Gateway answers", () => {
  it("reads a 200 with an empty body and several headers from one chunk", () => {
    const parser = new Http1ResponseParser();
    const response = parser.push(bytes(API_GATEWAY_OK));
    expect(response).toBeDefined();
    expect(response?.status).toBe(200);
    expect(response?.body).toBe("");
    expect(response?.closing).toBe(false);
    expect(response?.headers.get("content-type")).toBe("application/json");
    expect(response?.headers.get("x-amzn-requestid")).toBe("8d0c7a4b-1111-2222-3333-444455556666");
    expect(response?.headers.get("x-amz-apigw-id")).toBe("AbCdEfGhIjKlMnO=");
    expect([...(response?.headers.keys() ?? [])]).toEqual([
      "date",
      "content-type",
      "content-length",
      "connection",
      "x-amzn-requestid",
      "x-amz-apigw-id",
    ]);
    expect(parser.started).toBe(false);
    expect(parser.hasLeftover).toBe(false);
  });

  it("gives header names in lower case, whatever case the server used", () => {
    const response = parseOne(crlf("HTTP/1.1 200 OK", "X-AMZN-RequestId: r1", "CONTENT-length: 0", "", ""));
    expect(response?.headers.get("x-amzn-requestid")).toBe("r1");
    expect(response?.headers.get("content-length")).toBe("0");
    expect(response?.headers.has("X-AMZN-RequestId")).toBe(false);
  });

  it("trims spaces and tabs around header values, keeping inner ones", () => {
    const response = parseOne(
      crlf(
        "HTTP/1.1 200 OK",
        "X-A:   spaced value \t ",
        "X-B:\tx",
        "X-C:no-space",
        "X-Empty:",
        "X-Blank:  \t",
        "Content-Length: 0",
        "",
        "",
      ),
    );
    expect(response?.headers.get("x-a")).toBe("spaced value");
    expect(response?.headers.get("x-b")).toBe("x");
    expect(response?.headers.get("x-c")).toBe("no-space");
    expect(response?.headers.get("x-empty")).toBe("");
    expect(response?.headers.get("x-blank")).toBe("");
  });

  it("keeps only the first value of a repeated header", () => {
    const response = parseOne(
      crlf(
        "HTTP/1.1 200 OK",
        "Set-Cookie: a=1",
        "set-cookie: b=2",
        "X-Thing: first",
        "X-THING: second",
        "Content-Length: 0",
        "",
        "",
      ),
    );
    expect(response?.headers.get("set-cookie")).toBe("a=1");
    expect(response?.headers.get("x-thing")).toBe("first");
  });

  it("keeps a colon inside a header value", () => {
    const response = parseOne(
      crlf("HTTP/1.1 200 OK", "Date: Tue, 02 Jun 2026 10:00:00 GMT", "Content-Length: 0", "", ""),
    );
    expect(response?.headers.get("date")).toBe("Tue, 02 Jun 2026 10:00:00 GMT");
  });

  it("accepts a status line without a reason phrase", () => {
    expect(plain(parseOne(crlf("HTTP/1.1 200", "Content-Length: 0", "", "")))).toEqual({
      status: 200,
      headers: { "content-length": "0" },
      body: "",
      closing: false,
    });
    expect(parseOne(crlf("HTTP/1.1 503 ", "Content-Length: 0", "", ""))?.status).toBe(503);
  });

  it("accepts an answer with no headers at all, reading its body to the end of the connection", () => {
    const parser = new Http1ResponseParser();
    expect(parser.push(bytes("HTTP/1.1 200 OK\r\n\r\nbody"))).toBeUndefined();
    expect(plain(parser.end())).toEqual({ status: 200, headers: {}, body: "body", closing: true });
  });

  it("reads a 410 Gone with its JSON error body by Content-Length", () => {
    const response = parseOne(GONE);
    expect(response?.status).toBe(410);
    expect(response?.headers.get("x-amzn-errortype")).toBe("GoneException");
    expect(response?.body).toBe(GONE_BODY);
    expect(JSON.parse(response?.body ?? "")).toEqual({ message: "Gone" });
    expect(response?.closing).toBe(false);
  });

  it.each([
    [400, "BadRequestException", '{"message":"Invalid connectionId: abc"}'],
    [403, "ForbiddenException", '{"message":"Forbidden"}'],
    [413, "PayloadTooLargeException", '{"message":"Message too long"}'],
    [429, "LimitExceededException", '{"message":"Rate exceeded"}'],
    [500, "InternalServerErrorException", '{"message":"Internal server error"}'],
  ])("reads a %i error answer with its type and JSON body", (status, type, body) => {
    const response = parseOne(
      crlf(
        `HTTP/1.1 ${status} Whatever`,
        "Content-Type: application/json",
        `Content-Length: ${Buffer.byteLength(body)}`,
        `x-amzn-ErrorType: ${type}`,
        "",
        body,
      ),
    );
    expect(response?.status).toBe(status);
    expect(response?.headers.get("x-amzn-errortype")).toBe(type);
    expect(response?.body).toBe(body);
  });

  it("decodes a UTF-8 body whose multi-byte characters are split across chunks", () => {
    const body = '{"message":"héllo € 😀 日本"}';
    const whole = Buffer.concat([
      bytes(crlf("HTTP/1.1 200 OK", `Content-Length: ${Buffer.byteLength(body)}`, "", "")),
      bytes(body),
    ]);
    expect(Buffer.byteLength(body)).toBeGreaterThan(body.length);
    const bodyStart = whole.length - Buffer.byteLength(body);
    for (let at = bodyStart; at < whole.length; at++) {
      const response = onlyAtTheEnd([whole.subarray(0, at), whole.subarray(at)]);
      expect(response?.body).toBe(body);
    }
    const oneByteEach = [...whole].map((byte) => Buffer.from([byte]));
    expect(onlyAtTheEnd(oneByteEach)?.body).toBe(body);
  });

  it("decodes a chunked UTF-8 body whose chunk boundary falls inside a character", () => {
    const euro = bytes("€"); // three bytes
    const text = Buffer.concat([
      bytes(crlf("HTTP/1.1 200 OK", "Transfer-Encoding: chunked", "", "2", "")),
      euro.subarray(0, 2),
      bytes(crlf("", "1", "")),
      euro.subarray(2),
      bytes(crlf("", "0", "", "")),
    ]);
    expect(parseOne(text)?.body).toBe("€");
  });

  it("reads a body of exactly 1 MiB", () => {
    const body = "x".repeat(1024 * 1024);
    const response = parseOne(crlf("HTTP/1.1 200 OK", `Content-Length: ${body.length}`, "", body));
    expect(response?.body.length).toBe(body.length);
  });
});

describe("Http1ResponseParser: however the bytes are split", () => {
  describe.each(SAMPLES)("$name", ({ text, expected }) => {
    const whole = bytes(text);

    it("gives the same answer from one chunk", () => {
      expect(plain(onlyAtTheEnd([whole]))).toEqual(expected);
    });

    it("gives the same answer when split in two at every index", () => {
      for (let at = 0; at <= whole.length; at++) {
        const parser = new Http1ResponseParser();
        const [first, second] = feed(parser, [whole.subarray(0, at), whole.subarray(at)]);
        if (at < whole.length) expect(first, `split at ${at}`).toBeUndefined();
        const response = first ?? second;
        expect(plain(response), `split at ${at}`).toEqual(expected);
        expect(parser.started).toBe(false);
        expect(parser.hasLeftover).toBe(false);
      }
    });

    it("gives the same answer when split in three at every pair of indexes", () => {
      // Thousands of cases: compared as JSON, with one assertion over the list of splits that went wrong.
      const want = JSON.stringify([undefined, undefined, expected].map((result) => result ?? null));
      const wrong: string[] = [];
      for (let i = 1; i < whole.length; i++) {
        for (let j = i + 1; j < whole.length; j++) {
          const parser = new Http1ResponseParser();
          const got = feed(parser, [whole.subarray(0, i), whole.subarray(i, j), whole.subarray(j)]);
          const same = JSON.stringify(got.map((result) => plain(result) ?? null)) === want;
          if (!same || parser.started || parser.hasLeftover) wrong.push(`${i},${j}`);
        }
      }
      expect(wrong).toEqual([]);
    });

    it("gives the same answer one byte at a time, and only with the last byte", () => {
      const oneByteEach = [...whole].map((byte) => Buffer.from([byte]));
      expect(plain(onlyAtTheEnd(oneByteEach))).toEqual(expected);
    });

    it("gives the same answer with empty chunks in between", () => {
      const pieces: Buffer[] = [Buffer.alloc(0)];
      for (const byte of whole) pieces.push(Buffer.from([byte]), Buffer.alloc(0));
      const parser = new Http1ResponseParser();
      const results = feed(parser, pieces).filter((result) => result !== undefined);
      expect(results.map(plain)).toEqual([expected]);
    });
  });

  it("gives the same close-delimited answer at every split, once the connection ends", () => {
    const whole = bytes(crlf("HTTP/1.1 200 OK", "Content-Type: text/plain", "", "all the rest"));
    for (let at = 0; at <= whole.length; at++) {
      const parser = new Http1ResponseParser();
      expect(feed(parser, [whole.subarray(0, at), whole.subarray(at)])).toEqual([undefined, undefined]);
      expect(parser.started).toBe(true);
      expect(plain(parser.end())).toEqual({
        status: 200,
        headers: { "content-type": "text/plain" },
        body: "all the rest",
        closing: true,
      });
    }
  });
});

describe("Http1ResponseParser: bodies", () => {
  it("joins the chunks of a chunked body", () => {
    const response = parseOne(CHUNKED);
    expect(response?.body).toBe("hello, world");
    expect(response?.closing).toBe(false);
  });

  it("reads an empty chunked body", () => {
    const response = parseOne(crlf("HTTP/1.1 200 OK", "Transfer-Encoding: chunked", "", "0", "", ""));
    expect(response?.body).toBe("");
    expect(response?.closing).toBe(false);
  });

  it("reads hexadecimal chunk sizes in either case", () => {
    const a = "a".repeat(0x1a);
    const b = "b".repeat(0x2b);
    const response = parseOne(crlf("HTTP/1.1 200 OK", "Transfer-Encoding: chunked", "", "1a", a, "2B", b, "0", "", ""));
    expect(response?.body).toBe(a + b);
  });

  it("ignores trailers after the last chunk, not adding them to the headers", () => {
    const response = parseOne(CHUNKED);
    expect(response?.headers.has("x-checksum")).toBe(false);
  });

  it.each(["gzip, chunked", "GZIP ,Chunked", "Chunked"])('treats "Transfer-Encoding: %s" as chunked', (encoding) => {
    const parser = new Http1ResponseParser();
    const response = parser.push(
      bytes(crlf("HTTP/1.1 200 OK", `Transfer-Encoding: ${encoding}`, "", "3", "abc", "0", "", "")),
    );
    expect(response?.body).toBe("abc");
    expect(response?.closing).toBe(false);
    expect(parser.hasLeftover).toBe(false);
  });

  it("prefers chunked Transfer-Encoding over a Content-Length", () => {
    const response = parseOne(
      crlf("HTTP/1.1 200 OK", "Content-Length: 1", "Transfer-Encoding: chunked", "", "3", "abc", "0", "", ""),
    );
    expect(response?.body).toBe("abc");
  });

  it.each(["gzip", "chunked, gzip", "identity"])(
    'reads a "Transfer-Encoding: %s" body to the end of the connection, and the connection closes',
    (encoding) => {
      const parser = new Http1ResponseParser();
      expect(
        parser.push(bytes(crlf("HTTP/1.1 200 OK", `Transfer-Encoding: ${encoding}`, "Content-Length: 2", "", "raw"))),
      ).toBeUndefined();
      expect(parser.push(bytes(" bytes"))).toBeUndefined();
      const response = parser.end();
      expect(response.body).toBe("raw bytes");
      expect(response.closing).toBe(true);
    },
  );

  it("reads a body without Content-Length to the end of the connection, even if the server said keep-alive", () => {
    const parser = new Http1ResponseParser();
    expect(parser.push(bytes(crlf("HTTP/1.1 200 OK", "Connection: keep-alive", "", "part 1")))).toBeUndefined();
    expect(parser.started).toBe(true);
    expect(parser.hasLeftover).toBe(false);
    expect(parser.push(bytes(", part 2"))).toBeUndefined();
    const response = parser.end();
    expect(plain(response)).toEqual({
      status: 200,
      headers: { connection: "keep-alive" },
      body: "part 1, part 2",
      closing: true,
    });
    expect(parser.started).toBe(false);
  });

  it("gives an empty body when the connection ends right after the headers of a close-delimited answer", () => {
    const parser = new Http1ResponseParser();
    expect(parser.push(bytes("HTTP/1.1 500 Oops\r\nX-A: 1\r\n\r\n"))).toBeUndefined();
    expect(plain(parser.end())).toEqual({ status: 500, headers: { "x-a": "1" }, body: "", closing: true });
  });

  it.each([204, 304])("gives no body for a %i, even with a Content-Length", (status) => {
    const parser = new Http1ResponseParser();
    const response = parser.push(bytes(crlf(`HTTP/1.1 ${status} Nothing`, "Content-Length: 42", "", "")));
    expect(response?.status).toBe(status);
    expect(response?.body).toBe("");
    expect(response?.closing).toBe(false);
    expect(parser.started).toBe(false);
  });

  it.each([204, 304])("gives no body for a %i without Content-Length, and does not wait for the end", (status) => {
    const response = parseOne(crlf(`HTTP/1.1 ${status} Nothing`, "", ""));
    expect(response?.body).toBe("");
    expect(response?.closing).toBe(false);
  });

  it("accepts two equal Content-Length headers", () => {
    const response = parseOne(crlf("HTTP/1.1 200 OK", "Content-Length: 3", "content-length:  3 ", "", "abc"));
    expect(response?.body).toBe("abc");
  });

  it("accepts a Content-Length with surrounding spaces", () => {
    expect(parseOne(crlf("HTTP/1.1 200 OK", "Content-Length:    2  ", "", "ok"))?.body).toBe("ok");
  });
});

describe("Http1ResponseParser: whether the connection can be reused", () => {
  it("says closing on Connection: close", () => {
    expect(parseOne(crlf("HTTP/1.1 200 OK", "Connection: close", "Content-Length: 0", "", ""))?.closing).toBe(true);
  });

  it("says closing on Connection: Close in any case", () => {
    expect(parseOne(crlf("HTTP/1.1 200 OK", "Connection: CLOSE", "Content-Length: 0", "", ""))?.closing).toBe(true);
  });

  it("says not closing for HTTP/1.1 without a Connection header", () => {
    expect(parseOne(crlf("HTTP/1.1 200 OK", "Content-Length: 0", "", ""))?.closing).toBe(false);
  });

  it("says closing for HTTP/1.0 without keep-alive", () => {
    const response = parseOne(crlf("HTTP/1.0 200 OK", "Content-Length: 2", "", "ok"));
    expect(response?.body).toBe("ok");
    expect(response?.closing).toBe(true);
  });

  it("says not closing for HTTP/1.0 with Connection: keep-alive", () => {
    const response = parseOne(crlf("HTTP/1.0 200 OK", "Connection: Keep-Alive", "Content-Length: 2", "", "ok"));
    expect(response?.body).toBe("ok");
    expect(response?.closing).toBe(false);
  });
});

describe("Http1ResponseParser: bytes after an answer", () => {
  const first = crlf("HTTP/1.1 200 OK", "Content-Length: 5", "", "first");
  const second = crlf("HTTP/1.1 410 Gone", "Content-Length: 6", "", "second");

  it("returns the first of two answers in one chunk and says bytes are left over", () => {
    const parser = new Http1ResponseParser();
    const response = parser.push(bytes(first + second));
    expect(response?.status).toBe(200);
    expect(response?.body).toBe("first");
    expect(parser.hasLeftover).toBe(true);
    expect(parser.started).toBe(true);
  });

  it("gives the second answer when an empty chunk is pushed afterwards", () => {
    const parser = new Http1ResponseParser();
    expect(parser.push(bytes(first + second))?.body).toBe("first");
    const response = parser.push(Buffer.alloc(0));
    expect(response?.status).toBe(410);
    expect(response?.body).toBe("second");
    expect(parser.hasLeftover).toBe(false);
    expect(parser.started).toBe(false);
    expect(parser.push(Buffer.alloc(0))).toBeUndefined();
  });

  it("says bytes are left over after an answer followed by part of another", () => {
    const parser = new Http1ResponseParser();
    expect(parser.push(bytes(`${first}HTTP/1.1 2`))?.body).toBe("first");
    expect(parser.hasLeftover).toBe(true);
    expect(parser.push(bytes(second.slice("HTTP/1.1 2".length)))?.body).toBe("second");
    expect(parser.hasLeftover).toBe(false);
  });

  it("reads a second answer sent later on the same kept-alive connection", () => {
    const parser = new Http1ResponseParser();
    expect(parser.push(bytes(first))?.body).toBe("first");
    expect(parser.hasLeftover).toBe(false);
    expect(parser.push(bytes(second))?.body).toBe("second");
    expect(parser.push(bytes(CHUNKED))?.body).toBe("hello, world");
    expect(parser.push(bytes(GONE))?.body).toBe(GONE_BODY);
  });

  it("says bytes are left over after a 204 that carried a body anyway", () => {
    const parser = new Http1ResponseParser();
    expect(parser.push(bytes(crlf("HTTP/1.1 204 No Content", "Content-Length: 4", "", "oops")))?.status).toBe(204);
    expect(parser.hasLeftover).toBe(true);
  });

  it("does not say bytes are left over while an answer is still coming", () => {
    const parser = new Http1ResponseParser();
    parser.push(bytes(crlf("HTTP/1.1 200 OK", "Transfer-Encoding: chunked", "", "5", "he")));
    expect(parser.hasLeftover).toBe(false);
    expect(parser.started).toBe(true);
  });
});

describe("Http1ResponseParser: what has started", () => {
  it("has not started before any byte, nor after an empty chunk", () => {
    const parser = new Http1ResponseParser();
    expect(parser.started).toBe(false);
    expect(parser.hasLeftover).toBe(false);
    expect(parser.push(Buffer.alloc(0))).toBeUndefined();
    expect(parser.started).toBe(false);
  });

  it("has started after the first byte, inside the headers and inside the body", () => {
    const parser = new Http1ResponseParser();
    parser.push(bytes("H"));
    expect(parser.started).toBe(true);
    expect(parser.hasLeftover).toBe(true); // bytes not yet an answer's head count as left over
    parser.push(bytes(crlf("TTP/1.1 200 OK", "Content-Length: 4", "", "")));
    expect(parser.started).toBe(true);
    expect(parser.hasLeftover).toBe(false);
    parser.push(bytes("ab"));
    expect(parser.started).toBe(true);
    expect(parser.push(bytes("cd"))?.body).toBe("abcd");
    expect(parser.started).toBe(false);
  });

  it("has started when the headers are complete but the body has not begun", () => {
    const parser = new Http1ResponseParser();
    expect(parser.push(bytes(crlf("HTTP/1.1 200 OK", "Content-Length: 4", "", "")))).toBeUndefined();
    expect(parser.started).toBe(true);
  });

  it("has not started after a complete answer", () => {
    const parser = new Http1ResponseParser();
    parser.push(bytes(API_GATEWAY_OK));
    expect(parser.started).toBe(false);
    parser.push(bytes(CHUNKED));
    expect(parser.started).toBe(false);
  });

  it("has started while a 100 Continue is only partly read", () => {
    const parser = new Http1ResponseParser();
    parser.push(bytes("HTTP/1.1 100 Cont"));
    expect(parser.started).toBe(true);
  });
});

describe("Http1ResponseParser: the end of the connection", () => {
  it("fails with no answer when the connection ends before any byte", () => {
    protocolError(() => new Http1ResponseParser().end(), /no answer/);
  });

  it("fails when the connection ends inside the headers", () => {
    const parser = new Http1ResponseParser();
    parser.push(bytes("HTTP/1.1 200 OK\r\nContent-"));
    protocolError(() => parser.end(), /ended inside an answer/);
  });

  it("fails when the connection ends in the middle of a Content-Length body", () => {
    const parser = new Http1ResponseParser();
    expect(parser.push(bytes(crlf("HTTP/1.1 200 OK", "Content-Length: 10", "", "12345")))).toBeUndefined();
    protocolError(() => parser.end(), /ended inside an answer/);
  });

  it("fails when the connection ends right after the headers of a Content-Length answer", () => {
    const parser = new Http1ResponseParser();
    parser.push(bytes(crlf("HTTP/1.1 200 OK", "Content-Length: 10", "", "")));
    protocolError(() => parser.end(), /ended inside an answer/);
  });

  it("fails when the connection ends in the middle of a chunked body", () => {
    const parser = new Http1ResponseParser();
    parser.push(bytes(crlf("HTTP/1.1 200 OK", "Transfer-Encoding: chunked", "", "5", "hello", "0", "")));
    protocolError(() => parser.end(), /ended inside an answer/);
  });

  it("fails when the connection ends after a complete answer", () => {
    const parser = new Http1ResponseParser();
    parser.push(bytes(GONE));
    protocolError(() => parser.end(), /no answer/);
  });
});

describe("Http1ResponseParser: bytes that are not an HTTP/1.1 answer", () => {
  it.each([
    "HTTP/2 200",
    "HTTP/2.0 200 OK",
    "HTTP/1.2 200 OK",
    "HTTP/1.1 20 OK",
    "HTTP/1.1 2x0 OK",
    "HTTP/1.1 2000 OK",
    "HTTP/1.1 099 Low",
    "HTTP/1.1  200 OK",
    "HTTP/1.1-200 OK",
    "HTTP/1.10 200 OK",
    "http/1.1 200 OK",
    "HTTP/1.1 200-OK",
    "HTTP/1.1",
    "FOO",
    "",
    "<html><body>Bad Gateway</body></html>",
  ])('rejects the status line "%s"', (line) => {
    protocolError(() => parseOne(crlf(line, "Content-Length: 0", "", "")), /bad status line/);
  });

  it("rejects a bad status line that arrives without headers", () => {
    protocolError(() => parseOne("FOO\r\n\r\n"), /bad status line "FOO"/);
  });

  it.each(["X-No-Colon", ": no name", " ", "X-A\r\n: b"])("rejects the header line %j", (line) => {
    protocolError(() => parseOne(crlf("HTTP/1.1 200 OK", line, "Content-Length: 0", "", "")), /bad header line/);
  });

  it("rejects a header line without a colon even when it is the last", () => {
    protocolError(() => parseOne(crlf("HTTP/1.1 200 OK", "Content-Length: 0", "Broken", "", "")), /bad header line/);
  });

  it.each(["abc", "-1", "+5", "1.5", "0x10", "5, 5", "", "12345678901"])('rejects "Content-Length: %s"', (length) => {
    protocolError(
      () => parseOne(crlf("HTTP/1.1 200 OK", `Content-Length: ${length}`, "", "hello")),
      /bad Content-Length/,
    );
  });

  it("rejects two different Content-Length headers", () => {
    protocolError(
      () => parseOne(crlf("HTTP/1.1 200 OK", "Content-Length: 3", "Content-Length: 4", "", "abcd")),
      /two different Content-Length/,
    );
  });

  it("rejects a Content-Length over 1 MiB before any of the body arrives", () => {
    protocolError(
      () => parseOne(crlf("HTTP/1.1 200 OK", `Content-Length: ${1024 * 1024 + 1}`, "", "")),
      /body too large/,
    );
    protocolError(() => parseOne(crlf("HTTP/1.1 200 OK", "Content-Length: 9999999999", "", "")), /body too large/);
  });

  it("rejects a chunked body over 1 MiB", () => {
    const parser = new Http1ResponseParser();
    parser.push(bytes(crlf("HTTP/1.1 200 OK", "Transfer-Encoding: chunked", "", "100000", "")));
    parser.push(Buffer.alloc(0x100000, "a"));
    protocolError(() => parser.push(bytes(crlf("", "1", "b", "0", "", ""))), /body too large/);
  });

  it("rejects a close-delimited body over 1 MiB", () => {
    const parser = new Http1ResponseParser();
    parser.push(bytes(crlf("HTTP/1.1 200 OK", "", "")));
    parser.push(Buffer.alloc(1024 * 1024, "a"));
    protocolError(() => parser.push(bytes("b")), /body too large/);
  });

  it.each(["zz", "", "-1", "123456789", "0x5", " ; ext"])('rejects the chunk size "%s"', (size) => {
    protocolError(
      () => parseOne(crlf("HTTP/1.1 200 OK", "Transfer-Encoding: chunked", "", size, "hello", "0", "", "")),
      /bad chunk size/,
    );
  });

  it("rejects chunk data longer than its size", () => {
    protocolError(
      () => parseOne(crlf("HTTP/1.1 200 OK", "Transfer-Encoding: chunked", "", "3", "hello", "0", "", "")),
      /chunk data longer than its size/,
    );
  });

  it("rejects chunk data longer than its size when the extra bytes come later", () => {
    const parser = new Http1ResponseParser();
    expect(parser.push(bytes(crlf("HTTP/1.1 200 OK", "Transfer-Encoding: chunked", "", "3", "hel")))).toBeUndefined();
    protocolError(() => parser.push(bytes("lo\r\n0\r\n\r\n")), /chunk data longer than its size/);
  });

  it("rejects a chunk size line that never ends", () => {
    const parser = new Http1ResponseParser();
    parser.push(bytes(crlf("HTTP/1.1 200 OK", "Transfer-Encoding: chunked", "", "")));
    protocolError(() => parser.push(Buffer.alloc(16 * 1024 + 1, "1")), /chunk line too long/);
  });

  it("rejects headers over 16 KiB that have no end, whether in one chunk or many", () => {
    const head = bytes(`HTTP/1.1 200 OK\r\nX-Big: ${"a".repeat(16 * 1024)}`);
    protocolError(() => parseOne(head), /headers too large/);

    const parser = new Http1ResponseParser();
    let at = 0;
    for (; at + 1024 <= 16 * 1024; at += 1024) expect(parser.push(head.subarray(at, at + 1024))).toBeUndefined();
    protocolError(() => parser.push(head.subarray(at)), /headers too large/);
  });

  it("rejects complete headers over 16 KiB", () => {
    const text = crlf("HTTP/1.1 200 OK", `X-Big: ${"a".repeat(16 * 1024)}`, "Content-Length: 0", "", "");
    protocolError(() => parseOne(text), /headers too large/);
  });

  it("accepts headers just under 16 KiB", () => {
    const head = crlf("HTTP/1.1 200 OK", "Content-Length: 0", "X-Big: ");
    const text = `${head}${"a".repeat(16 * 1024 - 100 - head.length)}\r\n\r\n`;
    expect(parseOne(text)?.headers.get("x-big")?.length).toBeGreaterThan(16000);
  });

  it("rejects a bad answer after a 100 Continue", () => {
    protocolError(() => parseOne(crlf("HTTP/1.1 100 Continue", "", "HTTP/2 200", "", "")), /bad status line/);
  });
});

describe("Http1ResponseParser: edges found in review", () => {
  it("accepts headers of exactly 16 KiB however they are split", () => {
    const start = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Big: ";
    const text = `${start}${"a".repeat(16 * 1024 - start.length)}\r\n\r\n`;
    for (const at of [16383, 16384, 16385, 16386, 16387]) {
      const parser = new Http1ResponseParser();
      expect(parser.push(bytes(text.slice(0, at)))).toBeUndefined();
      expect(parser.push(bytes(text.slice(at)))?.status).toBe(200);
    }
  });

  it("counts a 100 Continue as the start of the answer, so a request it followed is not sent again", () => {
    const parser = new Http1ResponseParser();
    parser.push(bytes("HTTP/1.1 100 Continue\r\n\r\n"));
    expect(parser.started).toBe(true);
    protocolError(() => parser.end(), /inside an answer/);
  });

  it("adds up repeated Transfer-Encoding headers: chunked last means chunked", () => {
    const parser = new Http1ResponseParser();
    const text = crlf(
      "HTTP/1.1 200 OK",
      "Transfer-Encoding: gzip",
      "Transfer-Encoding: chunked",
      "",
      "2",
      "ok",
      "0",
      "",
      "",
    );
    expect(plain(parser.push(bytes(text)))).toMatchObject({ body: "ok", closing: false });
  });

  it("tolerates blanks before a header's colon", () => {
    expect(plain(parseOne(crlf("HTTP/1.1 200 OK", "Content-Length : 2", "", "ok")))).toMatchObject({
      body: "ok",
      closing: false,
    });
  });

  it.each([
    ["keep-alive, close", true],
    ["Upgrade, Close", true],
    ["keep-alive, Upgrade", false],
  ])("reads every option of `Connection: %s`", (connection, closing) => {
    expect(parseOne(crlf("HTTP/1.1 200 OK", `Connection: ${connection}`, "Content-Length: 0", "", ""))?.closing).toBe(
      closing,
    );
  });

  it("takes two Content-Length headers that write one number differently", () => {
    expect(parseOne(crlf("HTTP/1.1 200 OK", "Content-Length: 05", "Content-Length: 5", "", "hello"))?.body).toBe(
      "hello",
    );
  });

  it("reads an answer with both Transfer-Encoding and Content-Length by its chunks, then has the connection dropped", () => {
    const text = crlf(
      "HTTP/1.1 200 OK",
      "Content-Length: 99",
      "Transfer-Encoding: chunked",
      "",
      "2",
      "ok",
      "0",
      "",
      "",
    );
    expect(plain(parseOne(text))).toMatchObject({ body: "ok", closing: true });
  });
});
