/**
 * Moments after which the page should check its connection and catch up: the browser is back online (the network
 * changed), or the page is shown again (another tab was in front, the window was minimised, the laptop slept). A
 * socket can look open through either while nothing goes through it any more.
 */
export type WakeCause = "online" | "visible";

/** Calls `listener` on each; returns the function that stops listening. */
export function onPageWake(
  win: Pick<EventTarget, "addEventListener" | "removeEventListener">,
  doc: Pick<EventTarget, "addEventListener" | "removeEventListener"> & { readonly visibilityState: string },
  listener: (cause: WakeCause) => void,
): () => void {
  const online = () => listener("online");
  const visibility = () => {
    if (doc.visibilityState === "visible") listener("visible");
  };
  win.addEventListener("online", online);
  doc.addEventListener("visibilitychange", visibility);
  return () => {
    win.removeEventListener("online", online);
    doc.removeEventListener("visibilitychange", visibility);
  };
}
