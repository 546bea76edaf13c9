import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { RoomList } from "../../web/src/ui/room-list.js";
import { type FakeDocument, type FakeElement, installFakeDom } from "./fake-dom.js";

let doc: FakeDocument;
beforeEach(() => {
  doc = installFakeDom();
});
afterEach(() => {
  vi.unstubAllGlobals();
});

describe("RoomList", () => {
  it("shows an error about a room joined in the background without moving focus or unfolding the form", async () => {
    const list = new RoomList({ select: () => {}, join: () => undefined });
    const root = list.element as unknown as FakeElement;
    doc.body.appendChild(root);
    const byTestId = (id: string) => root.descendants().find((node) => node.getAttribute("data-testid") === id);
    const composer = doc.createElement("textarea");
    doc.body.appendChild(composer);
    composer.focus(); // the person is typing a message

    list.showError("Could not join #ops: too many rooms");
    await Promise.resolve(); // focus moves, if at all, in a microtask
    expect(doc.activeElement).toBe(composer);
    const form = root.descendants().find((node) => node.tagName === "FORM");
    expect(form?.dataset.open).toBe("false");
    // The error is read out and seen even with the form folded away (narrow screens hide it with display: none).
    const error = byTestId("join-error");
    expect(error?.textContent).toBe("Could not join #ops: too many rooms");
    expect(error?.getAttribute("aria-live")).toBe("polite");
    expect(form?.contains(error ?? null)).toBe(false);
  });
});
