import type { ConnectionState } from "../chat-socket.js";
import { el } from "./dom.js";

const LABELS: Record<ConnectionState["status"], string> = {
  "signed-out": "Signed out",
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Reconnecting…",
};

/**
 * The connection indicator in the header. `data-state` carries the machine state for styling and tests; the label
 * says it in words (a coloured dot alone fails people who do not see colour). The label is a status region, so a
 * change is announced; the retry countdown sits outside it, or it would be read out every second.
 */
export class ConnectionStatus {
  readonly element: HTMLElement;
  private readonly label = el("span", { role: "status", class: "connection-label" });
  private readonly countdown = el("span", { class: "connection-countdown", "aria-hidden": "true" });
  private readonly retry = el("button", { type: "button", class: "link-button", hidden: true }, "Retry now");
  private ticker: ReturnType<typeof setInterval> | undefined;

  constructor(onRetry: () => void) {
    this.element = el(
      "div",
      { class: "connection", "data-testid": "connection-state" },
      el("span", { class: "connection-dot", "aria-hidden": "true" }),
      this.label,
      this.countdown,
      this.retry,
    );
    this.retry.addEventListener("click", onRetry);
    this.render({ status: "signed-out", reason: "stopped" });
  }

  render(state: ConnectionState): void {
    clearInterval(this.ticker);
    this.ticker = undefined;
    this.element.dataset.state = state.status;
    const label = labelFor(state);
    if (this.label.textContent !== label) this.label.textContent = label;
    this.countdown.textContent = "";
    this.retry.hidden = true;
    if (state.status !== "reconnecting") return;
    const tick = () => {
      const seconds = Math.ceil((state.retryAt - Date.now()) / 1000);
      this.countdown.textContent = seconds >= 2 ? `in ${seconds} s` : "";
      // "Retry now" only while there is a wait worth skipping.
      this.retry.hidden = seconds < 2;
      if (seconds < 2) clearInterval(this.ticker);
    };
    tick();
    this.ticker = setInterval(tick, 1000);
  }

  dispose(): void {
    clearInterval(this.ticker);
  }
}

/** The state in words; a socket the browser would not even create is a setup problem, not a network one. */
function labelFor(state: ConnectionState): string {
  if (state.status === "reconnecting" && state.reason === "cannot-open") {
    return "Cannot connect: the browser refused the chat's address";
  }
  return LABELS[state.status];
}
