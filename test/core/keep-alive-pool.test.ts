import { execFileSync } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { type AddressInfo, createServer as createTcpServer, type Socket, type Server as TcpServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { HttpProtocolError } from "../../core/http1-response-parser.js";
import {
  ConnectionLostError,
  KeepAlivePool,
  type KeepAlivePoolOptions,
  RequestTimeoutError,
} from "../../core/keep-alive-pool.js";

// The pool against real servers: node:http for well-behaved answers, raw TCP servers for the misbehaving ones.

// A self-signed certificate for localhost and 127.0.0.1, made for this run (no key is kept in the repository).
let cert: Buffer;
let key: Buffer;
beforeAll(() => {
  const dir = mkdtempSync(join(tmpdir(), "pool-tls-"));
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      join(dir, "key.pem"),
      "-out",
      join(dir, "cert.pem"),
      "-days",
      "1",
      "-subj",
      "/CN=localhost",
      "-addext",
      "subjectAltName=DNS:localhost,IP:127.0.0.1",
    ],
    { stdio: "ignore" },
  );
  cert = readFileSync(join(dir, "cert.pem"));
  key = readFileSync(join(dir, "key.pem"));
  rmSync(dir, { recursive: true });
});

const closers: (() => void)[] = [];
afterEach(() => {
  for (const close of closers.splice(0)) close();
});

async function listen<T extends Server | TcpServer>(server: T): Promise<{ server: T; port: number }> {
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  closers.push(() => {
    if ("closeAllConnections" in server) server.closeAllConnections();
    server.close();
  });
  return { server, port: (server.address() as AddressInfo).port };
}

/** A node:http server; `sockets` counts the connections it accepted. */
async function httpServer(handler: (req: IncomingMessage, res: ServerResponse) => void) {
  const server = createServer((req, res) => {
    req.resume();
    req.once("end", () => handler(req, res));
  });
  let sockets = 0;
  server.on("connection", () => sockets++);
  const { port } = await listen(server);
  return { server, port, sockets: () => sockets };
}

/** A raw TCP server: `onRequest` gets each request's bytes (one write per request from the pool). */
async function tcpServer(onRequest: (socket: Socket, request: string, index: number) => void) {
  let requests = 0;
  let sockets = 0;
  const server = createTcpServer((socket) => {
    sockets++;
    socket.on("data", (chunk: Buffer) => onRequest(socket, chunk.toString("latin1"), requests++));
    socket.on("error", () => {});
  });
  const { port } = await listen(server);
  return { port, sockets: () => sockets };
}

function pool(port: number, options: Partial<KeepAlivePoolOptions> = {}, protocol = "http") {
  const created = new KeepAlivePool({
    origin: new URL(`${protocol}://127.0.0.1:${port}`),
    maxSockets: 4,
    timeoutMs: 2000,
    ...options,
  });
  closers.push(() => created.destroy());
  return created;
}

const head = (port: number, path = "/x", length = 2) =>
  `POST ${path} HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\ncontent-length: ${length}\r\n\r\n`;

describe("KeepAlivePool", () => {
  it("carries request after request on one kept-alive connection", async () => {
    const seen: string[] = [];
    const { port, sockets } = await httpServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      res.writeHead(200, { "x-answer": String(seen.length) }).end("ok");
    });
    const client = pool(port);
    for (let i = 1; i <= 5; i++) {
      const response = await client.request(head(port, `/n/${i}`), "{}");
      expect(response).toMatchObject({ status: 200, body: "ok", closing: false });
      expect(response.headers.get("x-answer")).toBe(String(i));
    }
    expect(seen).toEqual(["POST /n/1", "POST /n/2", "POST /n/3", "POST /n/4", "POST /n/5"]);
    expect(sockets()).toBe(1);
  });

  it("keeps at most maxSockets requests in flight, and every waiting one gets its turn", async () => {
    let inFlight = 0;
    let most = 0;
    const { port, sockets } = await httpServer((_req, res) => {
      most = Math.max(most, ++inFlight);
      setTimeout(() => {
        inFlight--;
        res.writeHead(200).end();
      }, 10);
    });
    const client = pool(port, { maxSockets: 3 });
    const answers = await Promise.all(Array.from({ length: 20 }, () => client.request(head(port), "{}")));
    expect(answers.map((answer) => answer.status)).toEqual(Array(20).fill(200));
    expect(most).toBe(3);
    expect(sockets()).toBe(3);
  });

  it("reads answers with chunked bodies, and opens a new connection after a `Connection: close` answer", async () => {
    let calls = 0;
    const { port, sockets } = await httpServer((_req, res) => {
      calls++;
      if (calls === 1) {
        res.writeHead(500, { "content-type": "application/json" }); // no length: node:http sends chunks
        res.write('{"message":');
        setTimeout(() => res.end('"Internal server error"}'), 5);
      } else if (calls === 2) {
        res.writeHead(200, { connection: "close" }).end();
      } else {
        res.writeHead(204).end();
      }
    });
    const client = pool(port);
    expect(await client.request(head(port), "{}")).toMatchObject({
      status: 500,
      body: '{"message":"Internal server error"}',
    });
    expect(await client.request(head(port), "{}")).toMatchObject({ status: 200, closing: true });
    expect(await client.request(head(port), "{}")).toMatchObject({ status: 204 });
    expect(sockets()).toBe(2);
  });

  it("replaces an idle connection the server closed", async () => {
    const { port, sockets } = await httpServer((req, res) => {
      res.writeHead(200).end();
      setTimeout(() => req.socket.destroy(), 10); // the server's idle timeout, soon after the answer
    });
    const client = pool(port);
    await client.request(head(port), "{}");
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect((await client.request(head(port), "{}")).status).toBe(200);
    expect(sockets()).toBe(2);
  });

  it("sends again, once, when a reused connection closes before any byte of answer, and not after a byte", async () => {
    const ok = "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
    const { port, sockets } = await tcpServer((socket, _request, index) => {
      if (index === 1)
        socket.destroy(); // the second request, on the reused connection: no answer at all
      else if (index === 3) {
        socket.write("HTTP/1.1 200 OK\r\ncontent-le"); // half an answer, then a reset
        setTimeout(() => socket.resetAndDestroy(), 20);
      } else if (index === 4)
        socket.end("HTTP/1.1 200 OK\r\ncontent-le"); // half an answer, then the end
      else socket.write(ok);
    });
    const client = pool(port, { maxSockets: 1 });
    await client.request(head(port), "{}");
    expect((await client.request(head(port), "{}")).status).toBe(200); // answered by request 2, on a new connection
    expect(sockets()).toBe(2);
    // Not sent again once a byte has come: the server may have acted on it.
    const reset = await client.request(head(port), "{}").catch((err: unknown) => err);
    expect(reset).toBeInstanceOf(ConnectionLostError);
    expect(reset).toMatchObject({ unanswered: false });
    const ended = await client.request(head(port), "{}").catch((err: unknown) => err);
    expect(ended).toBeInstanceOf(HttpProtocolError);
    expect(sockets()).toBe(3);
  });

  it("does not send again when a new connection closes unanswered", async () => {
    let requests = 0;
    const { port } = await tcpServer((socket) => {
      requests++;
      socket.destroy();
    });
    const error = await pool(port)
      .request(head(port), "{}")
      .catch((err: unknown) => err);
    expect(error).toBeInstanceOf(ConnectionLostError);
    expect(error).toMatchObject({ unanswered: false });
    expect(requests).toBe(1);
  });

  it("fails a request with no answer in time, and goes on with the next on a new connection", async () => {
    const { port, sockets } = await tcpServer((socket, _request, index) => {
      if (index > 0) socket.write("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
    });
    const client = pool(port, { timeoutMs: 100 });
    const error = await client.request(head(port), "{}").catch((err: unknown) => err);
    expect(error).toBeInstanceOf(RequestTimeoutError);
    expect((await client.request(head(port), "{}")).status).toBe(200);
    expect(sockets()).toBe(2);
  });

  it("refuses an answer that is not HTTP/1.1 and recovers on a new connection", async () => {
    const { port, sockets } = await tcpServer((socket, _request, index) => {
      socket.write(index === 0 ? "SSH-2.0-OpenSSH_9.6\r\n\r\n" : "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
    });
    const client = pool(port);
    await expect(client.request(head(port), "{}")).rejects.toBeInstanceOf(HttpProtocolError);
    expect((await client.request(head(port), "{}")).status).toBe(200);
    expect(sockets()).toBe(2);
  });

  it("drops a connection that sends more than the answer asked for", async () => {
    const ok = "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
    const { port, sockets } = await tcpServer((socket, _request, index) => {
      socket.write(index === 0 ? `${ok}${ok}` : ok); // a second, unrequested answer on the first connection
    });
    const client = pool(port);
    expect((await client.request(head(port), "{}")).status).toBe(200);
    expect((await client.request(head(port), "{}")).status).toBe(200);
    expect(sockets()).toBe(2);
  });

  it("reports a refused connection to each request, waiting ones included", async () => {
    const { port } = await listen(createTcpServer());
    for (const close of closers.splice(0)) close(); // nothing listens on the port any more
    const client = pool(port, { maxSockets: 2 });
    const results = await Promise.allSettled(Array.from({ length: 5 }, () => client.request(head(port), "{}")));
    expect(results.map((result) => result.status)).toEqual(Array(5).fill("rejected"));
    expect((results[4] as PromiseRejectedResult).reason).toMatchObject({ code: "ECONNREFUSED" });
  });

  it("fails requests in flight and waiting when destroyed", async () => {
    const { port } = await tcpServer(() => {}); // never answers
    const client = pool(port, { maxSockets: 1 });
    const inFlight = client.request(head(port), "{}").catch((err: unknown) => err);
    const waiting = client.request(head(port), "{}").catch((err: unknown) => err);
    await new Promise((resolve) => setTimeout(resolve, 50));
    client.destroy();
    expect(await inFlight).toBeInstanceOf(ConnectionLostError);
    expect(await waiting).toBeInstanceOf(ConnectionLostError);
  });

  it("speaks TLS, checks the certificate against the host, and resumes the TLS session on new connections", async () => {
    const server = createHttpsServer({ cert, key }, (req, res) => {
      req.resume();
      res.writeHead(200, { connection: "close" }).end("secure");
    });
    const resumed: boolean[] = [];
    server.on("secureConnection", (socket) => resumed.push(socket.isSessionReused()));
    const { port } = await listen(server);

    const trusting = pool(port, { tls: { ca: cert } }, "https");
    for (let i = 0; i < 3; i++) {
      expect(await trusting.request(head(port), "{}")).toMatchObject({ status: 200, body: "secure" });
    }
    expect(resumed).toEqual([false, true, true]);

    // Without the private CA the certificate is not trusted, and nothing is sent.
    await expect(pool(port, {}, "https").request(head(port), "{}")).rejects.toMatchObject({
      code: "DEPTH_ZERO_SELF_SIGNED_CERT",
    });
  });

  it("fails, and does not wait forever, when destroyed while connecting; and refuses requests afterwards", async () => {
    const { port } = await tcpServer(() => {}); // accepts, never answers the TLS handshake
    const client = pool(port, {}, "https");
    const connecting = client.request(head(port), "{}").catch((err: unknown) => err);
    await new Promise((resolve) => setTimeout(resolve, 50));
    client.destroy();
    expect(await connecting).toBeInstanceOf(ConnectionLostError);
    await expect(client.request(head(port), "{}")).rejects.toMatchObject({ message: "the pool was closed" });
  });

  it("does not send a request in flight again when destroyed, even on a reused connection", async () => {
    const { port, sockets } = await tcpServer((socket, _request, index) => {
      if (index === 0) socket.write("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"); // then silence
    });
    const client = pool(port);
    await client.request(head(port), "{}");
    const inFlight = client.request(head(port), "{}").catch((err: unknown) => err);
    await new Promise((resolve) => setTimeout(resolve, 50));
    client.destroy();
    expect(await inFlight).toMatchObject({ message: "the pool was closed", unanswered: false });
    expect(sockets()).toBe(1);
  });

  it("does not reuse a connection idle for longer than its timeout, as after a frozen Lambda's thaw", async () => {
    const { port, sockets } = await httpServer((_req, res) => res.writeHead(200).end());
    const client = pool(port, { timeoutMs: 1000 });
    await client.request(head(port), "{}");
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      vi.setSystemTime(Date.now() + 1500); // the wall clock moved on; the socket's idle timer did not fire
      expect((await client.request(head(port), "{}")).status).toBe(200);
    } finally {
      vi.useRealTimers();
    }
    expect(sockets()).toBe(2);
  });

  it.each([
    [{ maxSockets: 0 }, /maxSockets/],
    [{ maxSockets: 1.5 }, /maxSockets/],
    [{ timeoutMs: -5 }, /timeoutMs/],
    [{ timeoutMs: Number.NaN }, /timeoutMs/],
  ])("refuses the options %j", (options, message) => {
    expect(() => pool(1, options)).toThrow(message);
  });
});
