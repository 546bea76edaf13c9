import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { ErrorFrame, MessageFrame } from "../../core/protocol.js";
import { connectAs, flushDeliveries, isMessageFrame, startTestSandbox, type TestSandbox } from "../support/sandbox.js";
import { isErrorWith, isMessageWith } from "./security-sandbox.js";

// The per-connection token bucket through the sandbox, configured as the stack configures it (MESSAGE_BURST,
// MESSAGES_PER_SECOND): frames past the burst are answered with rate_limited, and nobody else is slowed down.
// The 128 KB message limit (close 1009) is covered in test/sandbox/chat.test.ts.

const BURST = 3;

describe("message rate limit", () => {
  let sandbox: TestSandbox;
  beforeAll(async () => {
    // One new token every 1000 s: nothing refills while the test runs.
    sandbox = await startTestSandbox({ handlerEnv: { MESSAGE_BURST: String(BURST), MESSAGES_PER_SECOND: "0.001" } });
  });
  afterAll(() => sandbox.close());

  it("answers rate_limited past the burst, and the others chat on unaffected", async () => {
    const [kai, lou, max] = await Promise.all([
      connectAs(sandbox, "kai"),
      connectAs(sandbox, "lou"),
      connectAs(sandbox, "max"),
    ]);
    const kaiTexts = Array.from({ length: BURST + 3 }, (_, n) => `kai ${n}`);
    // One at a time, each after the answer to the last: the bucket alone decides.
    for (const [n, text] of kaiTexts.entries()) {
      kai.send({ action: "sendmessage", text });
      await kai.waitFor(() => answered(kai) === n + 1);
    }
    const limited = kai.framesWhere<ErrorFrame>(isErrorWith("rate_limited"));
    expect(limited).toHaveLength(3);
    expect(limited[0]?.message).toMatch(/Try again in \d+ s/);

    for (const text of ["lou 1", "lou 2", "lou 3"]) {
      lou.send({ action: "sendmessage", text });
      await lou.waitFor(isMessageWith(text));
    }
    await flushDeliveries(sandbox, [kai, lou, max]);
    const accepted = [...kaiTexts.slice(0, BURST), "lou 1", "lou 2", "lou 3"];
    for (const client of [kai, lou, max]) {
      expect(client.framesWhere<MessageFrame>(isMessageFrame).map((frame) => frame.text)).toEqual(accepted);
    }
    expect(lou.framesWhere(isErrorWith("rate_limited"))).toEqual([]);
    expect(max.framesWhere(isErrorWith("rate_limited"))).toEqual([]);
    expect(kai.isOpen).toBe(true);
    await Promise.all([kai, lou, max].map((client) => client.close()));
  });

  it("never lets more than the burst through when the frames arrive all at once", async () => {
    const [ned, oda] = await Promise.all([connectAs(sandbox, "ned"), connectAs(sandbox, "oda")]);
    const texts = Array.from({ length: 12 }, (_, n) => `ned ${n}`);
    // The gateway runs a connection's frames concurrently, as API Gateway runs Lambda invocations.
    for (const text of texts) ned.send({ action: "sendmessage", text });
    await ned.waitFor(() => answered(ned) === texts.length);
    await flushDeliveries(sandbox, [ned, oda]);

    const delivered = oda.framesWhere<MessageFrame>(isMessageFrame).map((frame) => frame.text);
    expect(delivered.length).toBeGreaterThanOrEqual(1);
    expect(delivered.length).toBeLessThanOrEqual(BURST);
    expect(answered(ned)).toBe(texts.length);
    await Promise.all([ned.close(), oda.close()]);
  });

  // The bucket is saved with a conditional write on its `updatedAt` (core/connection-store.ts `saveBucket`). Two
  // invocations that take a token in the same millisecond compute the same `updatedAt`, so the second write's
  // condition still holds after the first: both frames pass and one token is spent. A stopped wall clock puts every
  // frame in that millisecond; on AWS a burst of frames from one connection lands pairs in it by chance.
  it("never lets more than the burst through when the frames are handled in the same millisecond", async () => {
    const [pia, quin] = await Promise.all([connectAs(sandbox, "pia"), connectAs(sandbox, "quin")]);
    const texts = Array.from({ length: 12 }, (_, n) => `pia ${n}`);
    const stopped = vi.spyOn(Date, "now").mockReturnValue(Date.now());
    try {
      for (const text of texts) pia.send({ action: "sendmessage", text });
      await pia.waitFor(() => answered(pia) === texts.length);
      await flushDeliveries(sandbox, [pia, quin]);
    } finally {
      stopped.mockRestore();
    }
    expect(quin.framesWhere<MessageFrame>(isMessageFrame).length).toBeLessThanOrEqual(BURST);
    await Promise.all([pia.close(), quin.close()]);
  });
});

/** Frames that answer a `sendmessage` of this client: its echo or a refusal. */
function answered(client: { frames: readonly unknown[] }): number {
  return client.frames.filter((frame) => isMessageFrame(frame) || (frame as ErrorFrame).type === "error").length;
}
