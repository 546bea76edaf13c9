import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { type AddressInfo, createServer as createTcpServer } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { isGone, isThrottled } from "../../core/connections-api.js";
import { createManagementConnections } from "../../core/management-client.js";
import { ManagementApiError, PostToConnection, type PostToConnectionOptions } from "../../core/post-to-connection.js";
import { SigV4Signer } from "../../core/sigv4-signer.js";

// PostToConnection against a real HTTP server standing in for API Gateway: what reaches it, and how each of its
// answers (or silences) comes back to the broadcaster.

type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void;
const credentials = { accessKeyId: "ASIAEXAMPLE", secretAccessKey: "secret", sessionToken: "session" };
const now = Date.parse("2026-11-29T09:00:00Z");

let server: Server;
let handler: Handler;
let endpoint: string;
/** Posters made by a test, closed after it. */
let posters: PostToConnection[];

beforeEach(async () => {
  handler = (_req, _body, res) => res.writeHead(200).end();
  server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => {
      body += chunk;
    });
    req.on("end", () => handler(req, body, res));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/prod`;
  posters = [];
});

afterEach(async () => {
  for (const post of posters) post.destroy();
  server.closeAllConnections();
  server.close();
});

const poster = (options: Partial<PostToConnectionOptions> = {}) => {
  const post = new PostToConnection({
    endpoint,
    region: async () => "eu-west-1",
    credentials: async () => credentials,
    maxSockets: 4,
    clock: () => now,
    ...options,
  });
  posters.push(post);
  return post;
};

/** The headers a server checking the signature recomputes from what it received. */
const signedFor = (req: { url?: string; headers: IncomingMessage["headers"] }, body: string) =>
  new SigV4Signer("eu-west-1", "execute-api").sign(
    {
      method: "POST",
      host: String(req.headers.host),
      path: String(req.url),
      headers: { "content-type": "application/octet-stream" },
      body,
    },
    credentials,
    new Date(now),
  );

const answer =
  (status: number, headers: Record<string, string> = {}, body = "") =>
  (_req: IncomingMessage, _body: string, res: ServerResponse) =>
    res.writeHead(status, headers).end(body);

describe("PostToConnection", () => {
  it("posts the frame to the connection's path, signed for execute-api in the region", async () => {
    const seen: { method?: string; url?: string; headers: IncomingMessage["headers"]; body: string }[] = [];
    handler = (req, body, res) => {
      seen.push({ method: req.method, url: req.url, headers: req.headers, body });
      res.writeHead(200).end();
    };
    await poster().post("L0SM9cOFvHcCIhw=", '{"type":"message","text":"héllo"}');

    const [request] = seen;
    expect(request).toMatchObject({ method: "POST", url: "/prod/@connections/L0SM9cOFvHcCIhw%3D" });
    expect(request?.body).toBe('{"type":"message","text":"héllo"}');
    expect(request?.headers["content-type"]).toBe("application/octet-stream"); // as the SDK sends it
    expect(request?.headers["content-length"]).toBe(String(Buffer.byteLength(request?.body ?? "")));
    expect(request?.headers["x-amz-security-token"]).toBe("session");
    // The server can check the signature: recomputed from what it received, it is the same.
    const expected = signedFor(request ?? { headers: {} }, request?.body ?? "");
    expect(request?.headers.authorization).toBe(expected.authorization);
    expect(request?.headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE\/20261129\/eu-west-1\/execute-api\/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, Signature=[0-9a-f]{64}$/,
    );
  });

  it("signs each body it sends, when the body changes between posts and back", async () => {
    const valid: boolean[] = [];
    handler = (req, body, res) => {
      const expected = signedFor(req, body);
      valid.push(req.headers.authorization === expected.authorization);
      res.writeHead(200).end();
    };
    const post = poster();
    for (const body of ['{"n":1}', '{"n":1}', '{"n":2}', '{"n":1}']) await post.post("abc=", body);
    expect(valid).toEqual([true, true, true, true]);
  });

  it("signs and sizes each of several posts of different bodies running at once", async () => {
    const received: { body: string; valid: boolean }[] = [];
    handler = (req, body, res) => {
      const expected = signedFor(req, body);
      received.push({ body, valid: req.headers.authorization === expected.authorization });
      res.writeHead(200).end();
    };
    // Credentials that take a turn of the event loop, as the SDK's providers may: the posts interleave.
    const post = poster({ credentials: () => new Promise((resolve) => setImmediate(() => resolve(credentials))) });
    const bodies = ['{"n":1}', '{"text":"a longer body, with ünïcode"}', '{"n":1}', "{}"];
    await Promise.all(bodies.map((body, i) => post.post(`c${i}=`, body)));
    expect(received.map((request) => request.body).sort()).toEqual([...bodies].sort());
    expect(received.every((request) => request.valid)).toBe(true);
  });

  it.each([
    [410, "GoneException", isGone],
    [429, "LimitExceededException", isThrottled],
  ])("turns a %i into %s, which the broadcaster recognises", async (status, type, recognise) => {
    handler = answer(status, { "x-amzn-ErrorType": type, "x-amzn-RequestId": "req-1" }, '{"message":"nope"}');
    const error = await poster()
      .post("abc=", "{}")
      .catch((err: unknown) => err);
    expect(error).toBeInstanceOf(ManagementApiError);
    expect(error).toMatchObject({ name: type, statusCode: status, connectionId: "abc=", requestId: "req-1" });
    expect((error as Error).message).toBe(`PostToConnection abc=: ${type} (${status}): nope`);
    expect(recognise(error)).toBe(true);
  });

  it.each([
    [403, "ForbiddenException"],
    [410, "GoneException"],
    [413, "PayloadTooLargeException"],
    [429, "LimitExceededException"],
    [500, "InternalServerErrorException"],
    [503, "InternalServerErrorException"],
    [418, "UnknownError"],
  ])("names a bare %i from its status (%s)", async (status, type) => {
    handler = answer(status, {}, "not json");
    await expect(poster().post("abc=", "{}")).rejects.toMatchObject({
      name: type,
      message: expect.stringMatching(/not json$/),
    });
  });

  it("reads the error type before a namespace suffix", async () => {
    handler = answer(410, { "x-amzn-ErrorType": "GoneException:http://internal.amazon.com/coral/" });
    await expect(poster().post("abc=", "{}")).rejects.toMatchObject({ name: "GoneException" });
  });

  it("gives up on a silent server after its timeout, as an error the broadcaster counts as failed", async () => {
    handler = () => {}; // never answers
    const error = await poster({ timeoutMs: 100 })
      .post("abc=", "{}")
      .catch((err: unknown) => err);
    expect(error).toMatchObject({ name: "TimeoutError", connectionId: "abc=", statusCode: undefined });
    expect(isGone(error) || isThrottled(error)).toBe(false);
  });

  it("sends again, once, when a kept-alive socket it reused turns out closed, and not a second time", async () => {
    let calls = 0;
    // The second request arrives on the socket the first one left open, and the server drops it unanswered, as
    // a server does when its idle timeout and the client's reuse cross.
    handler = (req, _body, res) => {
      calls++;
      if (calls === 2) req.socket.destroy();
      else res.writeHead(200).end();
    };
    const post = poster();
    await post.post("abc=", "{}");
    await post.post("abc=", "{}");
    expect(calls).toBe(3);

    // A fresh socket that fails is not tried again.
    handler = (req) => {
      calls++;
      req.socket.destroy();
    };
    await expect(poster().post("abc=", "{}")).rejects.toMatchObject({ name: "NetworkError" }); // a new pool
    expect(calls).toBe(4);
  });

  it("speaks TLS to an https endpoint", async () => {
    const firstBytes: number[] = [];
    const tcp = createTcpServer((socket) => {
      socket.once("data", (chunk: Buffer) => {
        firstBytes.push(chunk[0] ?? -1);
        socket.destroy();
      });
    });
    tcp.listen(0, "127.0.0.1");
    await once(tcp, "listening");
    try {
      const post = poster({ endpoint: `https://127.0.0.1:${(tcp.address() as AddressInfo).port}/prod` });
      await expect(post.post("abc=", "{}")).rejects.toMatchObject({ name: "NetworkError" });
      expect(firstBytes).toEqual([0x16]); // a TLS handshake record, not "POST"
    } finally {
      tcp.close();
    }
  });

  it("reports a connection refused as a network error", async () => {
    const post = poster({ endpoint: "http://127.0.0.1:1/prod" });
    await expect(post.post("abc=", "{}")).rejects.toMatchObject({ name: "NetworkError", connectionId: "abc=" });
  });

  it("asks for credentials on every post, so that refreshed ones are used", async () => {
    const keys = ["first", "second"];
    const seen: string[] = [];
    handler = (req, _body, res) => {
      seen.push(String(req.headers.authorization).split("Credential=")[1]?.split("/")[0] ?? "");
      res.writeHead(200).end();
    };
    const post = poster({ credentials: async () => ({ accessKeyId: keys.shift() ?? "none", secretAccessKey: "s" }) });
    await post.post("a=", "{}");
    await post.post("b=", "{}");
    expect(seen).toEqual(["first", "second"]);
  });

  it("refuses credentials with a line break, which would split the request, and sends nothing", async () => {
    let requests = 0;
    handler = (_req, _body, res) => {
      requests++;
      res.writeHead(200).end();
    };
    const post = poster({
      credentials: async () => ({ ...credentials, sessionToken: "token\r\nx-injected: 1" }),
    });
    await expect(post.post("abc=", "{}")).rejects.toMatchObject({ name: "InvalidCredentials" });
    expect(requests).toBe(0);
  });

  it("asks for the region again after a failed lookup, and leaves no rejection unhandled", async () => {
    const regions = [Promise.reject(new Error("no region")), Promise.resolve("eu-west-1")];
    for (const region of regions) region.catch(() => {});
    const post = poster({ region: () => regions.shift() ?? Promise.resolve("eu-west-1") });
    await expect(post.post("abc=", "{}")).rejects.toThrow("no region");
    await post.post("abc=", "{}");
  });

  it("is what createManagementConnections posts with, on the SDK client's credentials and region", async () => {
    const seen: IncomingMessage["headers"][] = [];
    handler = (req, _body, res) => {
      seen.push(req.headers);
      res.writeHead(200).end();
    };
    const connections = createManagementConnections({ endpoint });
    await connections.post("abc=", '{"type":"message"}');
    // A local endpoint: the SDK client gets the fixed local credentials and region, and so does the signature.
    expect(seen[0]?.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=local\/\d{8}\/local\/execute-api\/aws4_request, /,
    );
  });
});
