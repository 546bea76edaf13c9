import { createServer } from "node:net";
import { describe, expect, it } from "vitest";
import type { MessageFrame } from "../../core/protocol.js";
import { SandboxStartError } from "../../sandbox/errors.js";
import type { Invocation } from "../../sandbox/invoker.js";
import { connectAs, startTestSandbox } from "../support/sandbox.js";

describe("sandbox lifecycle", () => {
  it("runs several sandboxes in one process without sharing anything", async () => {
    const [one, two] = await Promise.all([startTestSandbox(), startTestSandbox()]);
    try {
      expect(one.urls.webSocket).not.toBe(two.urls.webSocket);
      const [a, b] = [await connectAs(one, "a"), await connectAs(two, "b")];
      a.send({ action: "sendmessage", text: "only in one" });
      await a.waitFor((frame) => (frame as MessageFrame).text === "only in one");
      await Promise.all([one.hooks.idle(), two.hooks.idle()]);
      expect(b.frames).toEqual([]);
      expect(one.hooks.connections()).toHaveLength(1);
      expect(two.hooks.connections()).toHaveLength(1);
      // Tokens of one sandbox's development issuer mean nothing to the other's.
      expect(one.urls.issuer).not.toBe(two.urls.issuer);
    } finally {
      await Promise.all([one.close(), two.close()]);
    }
  });

  it("closes open sockets with 1001, running $disconnect, and can be closed twice", async () => {
    const invocations: Invocation[] = [];
    const sandbox = await startTestSandbox({ onInvoke: (invocation) => invocations.push(invocation) });
    const clients = [await connectAs(sandbox, "c"), await connectAs(sandbox, "d")];

    await Promise.all([sandbox.close(), sandbox.close()]);

    for (const client of clients) expect((await client.closed).code).toBe(1001);
    const disconnects = invocations.filter(
      (invocation) => invocation.handler === "route" && invocation.routeKey === "$disconnect",
    );
    expect(disconnects).toHaveLength(2);
    expect(disconnects.every((invocation) => invocation.outcome.ok)).toBe(true);
    await expect(fetch(sandbox.urls.config)).rejects.toThrow();
  });

  it("says which port is taken, and leaves nothing running", async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    const { port } = blocker.address() as { port: number };
    try {
      const start = startTestSandbox({ port });
      await expect(start).rejects.toBeInstanceOf(SandboxStartError);
      await expect(start).rejects.toThrow(`port ${port} on 127.0.0.1 is in use`);
    } finally {
      blocker.close();
    }
  });
});
