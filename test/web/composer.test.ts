import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Composer, draftAfterRefusal } from "../../web/src/ui/composer.js";
import { type FakeDocument, type FakeElement, installFakeDom, keydown } from "./fake-dom.js";

let doc: FakeDocument;
beforeEach(() => {
  doc = installFakeDom();
});
afterEach(() => {
  vi.unstubAllGlobals();
});

function setup() {
  const sent: string[] = [];
  const composer = new Composer((text) => {
    sent.push(text);
    return true;
  });
  const root = composer.element as unknown as FakeElement;
  doc.body.appendChild(root);
  const input = root.descendants().find((node) => node.tagName === "TEXTAREA") as FakeElement;
  return { composer, input, sent };
}

describe("Composer", () => {
  it("does not take focus when the room list changes while the person is elsewhere on the page", () => {
    const { composer, input } = setup();
    composer.setEnabled(true);
    expect(doc.activeElement).toBe(doc.body); // not focused on first going live either
    // Every `rooms` event (an unread count elsewhere, a join) enables it again.
    composer.setEnabled(true);
    composer.setEnabled(true);
    expect(doc.activeElement).not.toBe(input);
  });

  it("gives focus back after a reconnect only if it had it when it was disabled", () => {
    const { composer, input } = setup();
    composer.setEnabled(true);
    input.focus();
    composer.setEnabled(false, "Reconnecting…"); // the browser drops the focus to the body
    composer.setEnabled(false, "Joining #lobby…");
    expect(doc.activeElement).toBe(doc.body);
    composer.setEnabled(true);
    expect(doc.activeElement).toBe(input);

    doc.body.focus();
    composer.setEnabled(false, "Reconnecting…");
    composer.setEnabled(true);
    expect(doc.activeElement).toBe(doc.body);
  });

  it("does not pull focus back from where the person went while it was disabled", () => {
    const { composer, input } = setup();
    const other = doc.createElement("input");
    doc.body.appendChild(other);
    composer.setEnabled(true);
    input.focus();
    composer.setEnabled(false, "Reconnecting…");
    other.focus();
    composer.setEnabled(true);
    expect(doc.activeElement).toBe(other);
  });

  it("sends on Enter, but not on the Enter that confirms an IME candidate (Safari: keyCode 229)", () => {
    const { composer, input, sent } = setup();
    composer.setEnabled(true);
    input.value = "こんにちは";
    expect(keydown(input, { key: "Enter", isComposing: true }).defaultPrevented).toBe(false);
    expect(keydown(input, { key: "Enter", keyCode: 229 }).defaultPrevented).toBe(false);
    expect(sent).toEqual([]);
    expect(input.value).toBe("こんにちは");
    keydown(input, { key: "Enter" });
    expect(sent).toEqual(["こんにちは"]);
    expect(input.value).toBe("");
  });

  it("puts a refused message back into the input, unless something new has been typed", () => {
    const { composer, input } = setup();
    composer.setEnabled(true);
    input.value = "hello";
    keydown(input, { key: "Enter" });
    composer.restoreUnsent("hello");
    expect(input.value).toBe("hello");
    input.value = "something new";
    composer.restoreUnsent("hello");
    expect(input.value).toBe("something new");
    expect(draftAfterRefusal("  ", "again")).toBe("again");
  });
});
