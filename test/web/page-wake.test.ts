import { describe, expect, it } from "vitest";
import { onPageWake, type WakeCause } from "../../web/src/page-wake.js";

class FakeDocument extends EventTarget {
  visibilityState = "visible";
  show(state: "visible" | "hidden") {
    this.visibilityState = state;
    this.dispatchEvent(new Event("visibilitychange"));
  }
}

describe("onPageWake", () => {
  it("reports the browser coming back online and the page being shown again, not it being hidden", () => {
    const win = new EventTarget();
    const doc = new FakeDocument();
    const causes: WakeCause[] = [];
    const stop = onPageWake(win, doc, (cause) => causes.push(cause));
    doc.show("hidden");
    doc.show("visible");
    win.dispatchEvent(new Event("online"));
    expect(causes).toEqual(["visible", "online"]);
    stop();
    doc.show("hidden");
    doc.show("visible");
    win.dispatchEvent(new Event("online"));
    expect(causes).toHaveLength(2);
  });
});
