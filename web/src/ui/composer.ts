import { Limits } from "../../../core/protocol.js";
import { codePointLength, textProblem } from "../frames.js";
import { el } from "./dom.js";

/** Show the character count once the text passes this share of the limit. */
const COUNTER_FROM = 0.8;

/**
 * The message input. Enter sends, Shift+Enter adds a line; disabled (with the reason as placeholder) whenever the
 * connection is not live, so nothing typed is silently lost. Errors, from the server or local checks, appear right
 * under the input in a live region.
 */
export class Composer {
  readonly element: HTMLFormElement;
  private readonly input: HTMLTextAreaElement;
  private readonly button: HTMLButtonElement;
  private readonly counter: HTMLSpanElement;
  private readonly error: HTMLParagraphElement;
  private label = "Message";
  /** The input had focus when it was disabled: it gets it back when enabled, if nothing else has taken it. */
  private refocusWhenEnabled = false;

  /** `send` returns false when the text could not be handed to the socket. */
  constructor(private readonly send: (text: string) => boolean) {
    this.input = el("textarea", {
      class: "composer-input",
      name: "text",
      rows: "1",
      "aria-label": "Message",
      "aria-describedby": "composer-error composer-counter",
      autocomplete: "off",
      enterkeyhint: "send",
      "data-testid": "composer-input",
    });
    this.button = el("button", { type: "submit", class: "primary composer-send", "data-testid": "send" }, "Send");
    this.counter = el("span", { id: "composer-counter", class: "composer-counter", hidden: true });
    this.error = el("p", {
      id: "composer-error",
      class: "composer-error",
      "aria-live": "assertive",
      "data-testid": "composer-error",
    });
    this.element = el(
      "form",
      { class: "composer", "aria-label": "Send a message" },
      el("div", { class: "composer-row" }, this.input, this.button),
      el("div", { class: "composer-foot" }, this.error, this.counter),
    );

    this.element.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    this.input.addEventListener("keydown", (event) => {
      // Enter that confirms an IME candidate (Japanese, Chinese...) must not send half a word: isComposing says so,
      // except in Safari, which ends the composition first and marks that Enter only with keyCode 229.
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
        event.preventDefault();
        this.submit();
      }
    });
    this.input.addEventListener("input", () => this.updateCounter());
    this.setEnabled(false, "Connecting…");
  }

  /** Called on every change of the rooms or the connection: only a change from disabled to enabled moves focus. */
  setEnabled(enabled: boolean, reason = ""): void {
    const wasEnabled = !this.input.disabled;
    if (wasEnabled && !enabled) this.refocusWhenEnabled = document.activeElement === this.input;
    this.input.disabled = !enabled;
    this.button.disabled = !enabled;
    this.input.placeholder = enabled ? this.label : reason;
    if (wasEnabled || !enabled) return;
    // Back live after a reconnect or a join: the cursor returns to where the person was typing, unless they have
    // gone somewhere else meanwhile (disabling the input dropped its focus to the body).
    const focusIsNowhere = document.activeElement === null || document.activeElement === document.body;
    if (this.refocusWhenEnabled && focusIsNowhere) this.input.focus();
    this.refocusWhenEnabled = false;
  }

  /** The text typed so far, cleared from the input: kept per room by the chat view. */
  takeDraft(): string {
    const draft = this.input.value;
    this.input.value = "";
    this.updateCounter();
    return draft;
  }

  setDraft(text: string): void {
    this.input.value = text;
    this.updateCounter();
  }

  /** Puts back a message the server refused (the input was cleared on send), unless something new was typed since. */
  restoreUnsent(text: string): void {
    this.setDraft(draftAfterRefusal(this.input.value, text));
  }

  /** Names where the input sends to ("Message #design"), as its label and, when it can send, its placeholder. */
  setLabel(label: string): void {
    this.label = label;
    this.input.setAttribute("aria-label", label);
    if (!this.input.disabled) this.input.placeholder = label;
  }

  showError(message: string): void {
    this.error.textContent = message;
  }

  private submit(): void {
    if (this.input.disabled) return;
    const problem = textProblem(this.input.value);
    if (problem) {
      this.showError(problem);
      return;
    }
    if (!this.send(this.input.value)) {
      this.showError("Not connected. Your message was not sent; it is still here.");
      return;
    }
    this.input.value = "";
    this.showError("");
    this.updateCounter();
  }

  private updateCounter(): void {
    const length = codePointLength(this.input.value.trim());
    this.counter.hidden = length < Limits.maxTextLength * COUNTER_FROM;
    this.counter.textContent = `${length} / ${Limits.maxTextLength}`;
    this.counter.classList.toggle("over", length > Limits.maxTextLength);
  }
}

/** What a room's draft becomes when a message sent from it was refused: the message again, unless there is new text. */
export function draftAfterRefusal(draft: string, refused: string): string {
  return draft.trim() === "" ? refused : draft;
}
