import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ConnectionStatus } from "../../web/src/ui/connection-status.js";
import { type FakeElement, installFakeDom } from "./fake-dom.js";

beforeEach(() => {
  installFakeDom();
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

describe("ConnectionStatus", () => {
  it("says the chat cannot connect when the browser refuses to open the socket, rather than 'Reconnecting…'", () => {
    const status = new ConnectionStatus(() => {});
    const label = (status.element as unknown as FakeElement)
      .descendants()
      .find((node) => node.getAttribute("role") === "status");
    status.render({ status: "reconnecting", attempt: 1, retryAt: Date.now() + 500, reason: "cannot-open" });
    expect(label?.textContent).toMatch(/^Cannot connect/);
    status.render({ status: "reconnecting", attempt: 1, retryAt: Date.now() + 500, reason: "dropped" });
    expect(label?.textContent).toBe("Reconnecting…");
    status.dispose();
  });
});
