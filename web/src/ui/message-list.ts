import type { MessageFrame } from "../../../core/protocol.js";
import { el, srOnly } from "./dom.js";

/** Older messages are dropped from the page beyond this many, so a tab left open for days stays light. */
const MAX_MESSAGES = 500;
/** Consecutive messages from one sender within this gap share a header. */
const GROUP_GAP_MS = 5 * 60 * 1000;

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" });
const dateTimeFormat = new Intl.DateTimeFormat(undefined, {
  month: "short",
  day: "numeric",
  hour: "numeric",
  minute: "2-digit",
});
const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "medium" });

interface Entry {
  frame: MessageFrame;
  time: number;
  element: HTMLLIElement;
}

/**
 * The conversation. A `role="log"` list, so screen readers announce each new message politely. Messages are kept in
 * id order (ids are ULIDs: they sort by time) and duplicates are ignored, so history and replays after a reconnect
 * (issue 7) can be added with the same `add` without double entries.
 */
export class MessageList {
  readonly element: HTMLElement;
  private readonly list: HTMLOListElement;
  private readonly jump: HTMLButtonElement;
  private readonly entries: Entry[] = [];
  private readonly ids = new Set<string>();

  constructor(private readonly ownUserId: string) {
    this.list = el("ol", {
      class: "messages",
      role: "log",
      "aria-live": "polite",
      "aria-label": "Messages",
      "data-testid": "messages",
    });
    this.jump = el("button", { type: "button", class: "jump", hidden: true }, "New messages ↓");
    const empty = el("p", { class: "empty" }, "No messages yet. Say hello!");
    this.element = el("div", { class: "messages-pane" }, empty, this.list, this.jump);
    this.jump.addEventListener("click", () => this.scrollToEnd());
    this.list.addEventListener("scroll", () => {
      if (this.nearEnd()) this.jump.hidden = true;
    });
  }

  add(frame: MessageFrame): void {
    if (this.ids.has(frame.id)) return;
    const stick = this.nearEnd() || frame.sender.userId === this.ownUserId;
    const time = Date.parse(frame.sentAt);
    const entry: Entry = { frame, time, element: this.render(frame, time) };

    let index = this.entries.length;
    while (index > 0 && (this.entries[index - 1]?.frame.id ?? "") > frame.id) index--;
    this.list.insertBefore(entry.element, this.entries[index]?.element ?? null);
    this.entries.splice(index, 0, entry);
    this.ids.add(frame.id);
    this.regroup(index);
    this.regroup(index + 1);
    this.trim();

    if (stick) this.scrollToEnd();
    else this.jump.hidden = false;
  }

  private render(frame: MessageFrame, time: number): HTMLLIElement {
    const own = frame.sender.userId === this.ownUserId;
    const name = frame.sender.name ?? frame.sender.userId;
    const date = new Date(time);
    const sameDay = new Date().toDateString() === date.toDateString();
    return el(
      "li",
      { class: own ? "message own" : "message", "data-own": String(own), "data-id": frame.id },
      el(
        "div",
        { class: "message-meta" },
        el("span", { class: "message-sender", title: frame.sender.userId }, name),
        own && srOnly(" (you)"),
        srOnly(", "),
        Number.isNaN(time)
          ? undefined
          : el(
              "time",
              { class: "message-time", datetime: frame.sentAt, title: fullFormat.format(date) },
              (sameDay ? timeFormat : dateTimeFormat).format(date),
            ),
      ),
      // textContent via el(): the text stays text, whatever it contains. CSS keeps its line breaks.
      el("p", { class: "message-text" }, frame.text),
    );
  }

  /** Hides the sender line of a message that continues the previous sender's run. */
  private regroup(index: number): void {
    const entry = this.entries[index];
    if (!entry) return;
    const previous = this.entries[index - 1];
    const continued =
      previous !== undefined &&
      previous.frame.sender.userId === entry.frame.sender.userId &&
      entry.time - previous.time < GROUP_GAP_MS;
    entry.element.classList.toggle("continued", continued);
  }

  private trim(): void {
    while (this.entries.length > MAX_MESSAGES) {
      const oldest = this.entries.shift();
      if (!oldest) break;
      oldest.element.remove();
      this.ids.delete(oldest.frame.id);
    }
    this.regroup(0);
  }

  private nearEnd(): boolean {
    return this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < 80;
  }

  private scrollToEnd(): void {
    this.list.scrollTop = this.list.scrollHeight;
    this.jump.hidden = true;
  }
}
