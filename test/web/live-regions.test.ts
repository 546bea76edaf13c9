import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

/**
 * A live region that is `display: none` while empty is not in the accessibility tree, so screen readers miss the text
 * that makes it appear. These regions must stay rendered (empty, with no height); only what is around them may hide.
 */
const LIVE_REGIONS = ["composer-error", "join-error", "form-error"];
/** The elements that hold them. */
const HOLDERS = ["composer-foot"];

/** Selectors of the stylesheet's rules that set `display: none`. */
function hidingSelectors(css: string): string[] {
  const withoutComments = css.replace(/\/\*[\s\S]*?\*\//g, "");
  return [...withoutComments.matchAll(/([^{}]+)\{([^{}]*)\}/g)]
    .filter(([, , body]) => /display:\s*none/.test(body ?? ""))
    .flatMap(([, selectors]) => (selectors ?? "").split(",").map((selector) => selector.trim()));
}

describe("live regions in the stylesheet", () => {
  it("are never hidden, nor is what holds them, for being empty", () => {
    const css = readFileSync(new URL("../../web/src/styles.css", import.meta.url), "utf8");
    const names = [...LIVE_REGIONS, ...HOLDERS];
    const hiding = hidingSelectors(css).filter((selector) => names.some((name) => selector.includes(`.${name}`)));
    expect(hiding).toEqual([]);
  });
});
