import {
  type ApiGatewayManagementApiClient,
  DeleteConnectionCommand,
  GetConnectionCommand,
  GoneException,
  PostToConnectionCommand,
} from "@aws-sdk/client-apigatewaymanagementapi";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createManagementClient } from "../../core/management-client.js";
import type { MessageFrame } from "../../core/protocol.js";
import { PAST_CONNECT_GRACE_MS, testClock } from "../support/clock.js";
import {
  connectAs,
  connectionIdOf,
  connectionRecords,
  startTestSandbox,
  type TestSandbox,
} from "../support/sandbox.js";

// The management API as an unmodified SDK client sees it: only the endpoint is the sandbox's.
describe("management API", () => {
  let sandbox: TestSandbox;
  let api: ApiGatewayManagementApiClient;
  const text = new TextEncoder();
  const time = testClock();
  beforeAll(async () => {
    sandbox = await startTestSandbox({ clock: time.clock, handlerEnv: { MESSAGE_BURST: "50" } });
    api = createManagementClient({ endpoint: sandbox.urls.management });
  });
  afterEach(() => sandbox.hooks.faults.clear());
  afterAll(async () => {
    api.destroy();
    await sandbox.close();
  });

  const post = (connectionId: string, data: string) =>
    api.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: text.encode(data) }));

  it("answers GoneException for a connection that never existed", async () => {
    const error = await post("AAAAAAAAAAAAAAA=", "{}").catch((err: unknown) => err);
    expect(error).toBeInstanceOf(GoneException);
    expect((error as GoneException).$metadata.httpStatusCode).toBe(410);
  });

  it("delivers PostToConnection data to the client as a text frame", async () => {
    const rose = await connectAs(sandbox, "rose");
    await post(connectionIdOf(sandbox, rose.userId), '{"type":"hello","n":1}');
    expect(await rose.waitFor((frame) => (frame as { type?: string }).type === "hello")).toEqual({
      type: "hello",
      n: 1,
    });
    await rose.close();
  });

  it("describes a connection with GetConnection", async () => {
    const before = Date.now();
    const sam = await connectAs(sandbox, "sam");
    const id = connectionIdOf(sandbox, sam.userId);
    const connection = await api.send(new GetConnectionCommand({ ConnectionId: id }));
    expect(connection.ConnectedAt).toBeInstanceOf(Date);
    expect(connection.ConnectedAt?.getTime()).toBeGreaterThanOrEqual(before - 1000);
    expect(connection.LastActiveAt?.getTime()).toBeGreaterThanOrEqual(connection.ConnectedAt?.getTime() ?? 0);
    expect(connection.Identity).toEqual({ SourceIp: "127.0.0.1", UserAgent: "test-sam" });
    await sam.close();
  });

  it("closes the socket on DeleteConnection; $disconnect removes the record and the id is gone", async () => {
    const tess = await connectAs(sandbox, "tess");
    const id = connectionIdOf(sandbox, tess.userId);
    const ended = sandbox.hooks.whenEnded(id);

    await api.send(new DeleteConnectionCommand({ ConnectionId: id }));

    expect((await tess.closed).code).toBe(1000);
    expect(await ended).toMatchObject({ cause: "management-api" });
    expect((await connectionRecords(sandbox)).map((record) => record.connectionId)).not.toContain(id);
    await expect(post(id, "{}")).rejects.toBeInstanceOf(GoneException);
    await expect(api.send(new DeleteConnectionCommand({ ConnectionId: id }))).rejects.toBeInstanceOf(GoneException);
  });

  it("refuses data over 128 KB with PayloadTooLargeException and delivers exactly 128 KB", async () => {
    const uma = await connectAs(sandbox, "uma");
    const id = connectionIdOf(sandbox, uma.userId);
    const error = await post(id, "x".repeat(131_073)).catch((err: unknown) => err);
    expect((error as Error).name).toBe("PayloadTooLargeException");
    await post(id, "x".repeat(131_072));
    await uma.waitFor((frame) => typeof frame === "string" && frame.length === 131_072);
    expect(uma.isOpen).toBe(true);
    await uma.close();
  });

  it("answers ForbiddenException outside the stage's @connections routes", async () => {
    const wrongStage = createManagementClient({ endpoint: sandbox.urls.management.replace(/\/prod$/, "/beta") });
    const error = await wrongStage
      .send(new PostToConnectionCommand({ ConnectionId: "AAAAAAAAAAAAAAA=", Data: text.encode("{}") }))
      .catch((err: unknown) => err);
    wrongStage.destroy();
    expect((error as Error).name).toBe("ForbiddenException");
  });

  it("injects faults per connection: 429 a chosen number of times, 500, 410 and delays", async () => {
    const vic = await connectAs(sandbox, "vic");
    const id = connectionIdOf(sandbox, vic.userId);
    // The earlier tests' departures are announced to the lobby, vic included: they must not take vic's faults.
    await sandbox.hooks.idle();

    sandbox.hooks.faults.add({ connectionIds: [id], status: 429, times: 2 });
    for (let i = 0; i < 2; i++) {
      expect(((await post(id, "{}").catch((err: unknown) => err)) as Error).name).toBe("LimitExceededException");
    }
    await post(id, '{"type":"after-throttle"}');
    await vic.waitFor((frame) => (frame as { type?: string }).type === "after-throttle");

    const remove = sandbox.hooks.faults.add({ connectionIds: (candidate) => candidate === id, status: 500 });
    const error = (await post(id, "{}").catch((err: unknown) => err)) as Error & { $fault?: string };
    expect(error.name).toBe("InternalServerErrorException");
    expect(error.$fault).toBe("server");
    remove();

    sandbox.hooks.faults.add({ connectionIds: [id], methods: ["GET"], status: 410 });
    await expect(api.send(new GetConnectionCommand({ ConnectionId: id }))).rejects.toBeInstanceOf(GoneException);
    await post(id, '{"type":"post-still-works"}');

    sandbox.hooks.faults.clear();
    sandbox.hooks.faults.add({ connectionIds: [id], delayMs: 150, times: 1 });
    const started = Date.now();
    await post(id, '{"type":"late"}');
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    await vic.close();
  });

  it("lets a broadcast meet throttles and gone connections through the real path", async () => {
    const [wes, xia, yan] = [
      await connectAs(sandbox, "wes"),
      await connectAs(sandbox, "xia"),
      await connectAs(sandbox, "yan"),
    ];
    const xiaId = connectionIdOf(sandbox, xia.userId);
    const yanId = connectionIdOf(sandbox, yan.userId);
    await sandbox.hooks.idle(); // as above: only this test's broadcast meets the faults
    sandbox.hooks.faults.add({ connectionIds: [xiaId], methods: ["POST"], status: 429, times: 2 });
    sandbox.hooks.faults.add({ connectionIds: [yanId], methods: ["POST"], status: 410 });
    // Past the grace that keeps a young connection answering 410 (it may still be in `$connect`).
    time.advance(PAST_CONNECT_GRACE_MS);

    wes.send({ action: "sendmessage", text: "through faults" });

    const isIt = (frame: unknown) => (frame as MessageFrame).text === "through faults";
    await Promise.all([wes.waitFor(isIt), xia.waitFor(isIt)]);
    await sandbox.hooks.idle();
    expect(yan.framesWhere(isIt)).toEqual([]);
    expect(xia.framesWhere(isIt)).toHaveLength(1);
    expect((await connectionRecords(sandbox)).map((record) => record.connectionId)).not.toContain(yanId);
    // xia's two 429s are shared with the "left" announcement for yan, which races the message's own retries.
    expect(sandbox.logLines.some((line) => /message .*delivered 2, gone 1.*retries [12]\b/.test(line))).toBe(true);
    await Promise.all([wes.close(), xia.close(), yan.close()]);
  });

  // How fast is for the benchmarks to say; this checks that none is lost or refused.
  it("serves 200 concurrent posts, every one delivered", async () => {
    const zed = await connectAs(sandbox, "zed");
    const id = connectionIdOf(sandbox, zed.userId);
    await Promise.all(Array.from({ length: 200 }, (_, n) => post(id, JSON.stringify({ type: "burst", n }))));
    const bursts = () => zed.framesWhere<{ n: number }>((frame) => (frame as { type?: string }).type === "burst");
    await zed.waitFor(() => bursts().length === 200);
    expect(new Set(bursts().map((frame) => frame.n)).size).toBe(200);
    await zed.close();
  });
});
