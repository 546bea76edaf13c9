import type { MessageFrame } from "../../../core/protocol.js";
import { type Arrival, displayName } from "../rooms/room-state.js";
import { el, srOnly } from "./dom.js";

/** Consecutive messages from one sender within this gap share a header. */
const GROUP_GAP_MS = 5 * 60 * 1000;
/** Scrolled this close to the top, the next page of older messages is fetched. */
const LOAD_OLDER_WITHIN_PX = 150;

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

/** What the top of the list says: whether there is more to fetch, and whether it is on its way. */
export interface OlderState {
  loaded: boolean;
  hasMore: boolean;
  loading: boolean;
  /** Older messages can be asked for now (the connection is live and in the room). */
  canLoad: boolean;
}

/**
 * One room's conversation. The room state (`room-state.ts`) decides what the messages are; this list mirrors it:
 * entries are inserted in id order (so history and late arrivals land in place) and removed when the room trims.
 * Scrolling near the top asks for older messages, and a page inserted above keeps what is on screen where it was.
 * Announcing new messages is the chat view's job (one live region for the room on screen), so a page of history
 * arriving here is not read out.
 */
export class MessageList {
  readonly element: HTMLElement;
  private readonly scroller: HTMLElement;
  private readonly list: HTMLOListElement;
  private readonly status: HTMLParagraphElement;
  private readonly loadButton: HTMLButtonElement;
  private readonly empty: HTMLParagraphElement;
  private readonly jump: HTMLButtonElement;
  private readonly entries: Entry[] = [];
  private savedScroll: number | "end" = "end";
  private older: OlderState = { loaded: false, hasMore: false, loading: false, canLoad: false };

  constructor(
    private readonly ownUserId: string,
    readonly room: string,
    private readonly onNeedOlder: () => void,
  ) {
    this.list = el("ol", { class: "messages", "aria-label": `Messages in #${room}`, "data-testid": "messages" });
    this.loadButton = el("button", { type: "button", class: "link-button" }, "Load older messages");
    this.status = el("p", { class: "history-status", "data-testid": "history-status" });
    this.empty = el("p", { class: "empty" });
    this.scroller = el(
      "div",
      // Focusable, so the conversation scrolls from the keyboard; a region, so it has a name when focused.
      { class: "messages-scroller", role: "region", tabindex: "0", "aria-label": `#${room} conversation` },
      this.status,
      this.list,
    );
    this.jump = el("button", { type: "button", class: "jump", hidden: true }, "New messages ↓");
    this.element = el(
      "div",
      { class: "messages-pane", "data-room": room, hidden: true },
      this.empty,
      this.scroller,
      this.jump,
    );
    this.jump.addEventListener("click", () => this.scrollToEnd());
    this.loadButton.addEventListener("click", () => this.onNeedOlder());
    this.scroller.addEventListener("scroll", () => {
      if (this.nearEnd()) this.jump.hidden = true;
      if (this.scroller.scrollTop < LOAD_OLDER_WITHIN_PX) this.maybeLoadOlder();
    });
    this.renderStatus();
  }

  /** Shows or hides the list; a list coming into view may need older messages to fill it. */
  setVisible(visible: boolean): void {
    // A hidden (display: none) list has no scroll position: remember it, so a room comes back as it was left.
    if (!visible && !this.element.hidden) this.savedScroll = this.nearEnd() ? "end" : this.scroller.scrollTop;
    this.element.hidden = !visible;
    if (!visible) return;
    if (this.savedScroll === "end") this.scrollToEnd();
    else this.scroller.scrollTop = this.savedScroll;
    this.fillViewport();
  }

  /** Inserts messages new to the room (the room state has already de-duplicated them), sorted by id. */
  add(frames: readonly MessageFrame[], arrival: Arrival): void {
    if (frames.length === 0) return;
    const wasNearEnd = this.nearEnd();
    const fromBottom = this.scroller.scrollHeight - this.scroller.scrollTop;
    const ownSent = arrival === "live" && frames.some((frame) => frame.sender.userId === this.ownUserId);
    for (const frame of frames) this.insert(frame);
    this.updateEmpty();

    if (arrival === "older") {
      // Keep what the person was reading in place: the page grew above it.
      this.scroller.scrollTop = this.scroller.scrollHeight - fromBottom;
    } else if (arrival === "initial" || wasNearEnd || ownSent) {
      this.scrollToEnd();
    } else {
      this.jump.hidden = false;
    }
    this.fillViewport();
  }

  /** Removes messages the room no longer keeps (the oldest), keeping the view where it is. */
  remove(frames: readonly MessageFrame[]): void {
    const ids = new Set(frames.map((frame) => frame.id));
    const fromBottom = this.scroller.scrollHeight - this.scroller.scrollTop;
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const entry = this.entries[i];
      if (entry && ids.has(entry.frame.id)) {
        entry.element.remove();
        this.entries.splice(i, 1);
      }
    }
    this.regroup(0);
    this.scroller.scrollTop = this.scroller.scrollHeight - fromBottom;
    this.updateEmpty();
  }

  setOlderState(state: OlderState): void {
    this.older = state;
    this.updateEmpty(); // renders the status too
    this.fillViewport();
  }

  scrollToEnd(): void {
    this.scroller.scrollTop = this.scroller.scrollHeight;
    this.jump.hidden = true;
  }

  private insert(frame: MessageFrame): void {
    // Binary search for the first entry with a larger id: pages of older messages land at the start, live ones at
    // the end, late ones in between.
    let low = 0;
    let high = this.entries.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if ((this.entries[mid]?.frame.id ?? "") < frame.id) low = mid + 1;
      else high = mid;
    }
    if (this.entries[low]?.frame.id === frame.id) return;
    const time = Date.parse(frame.sentAt);
    const entry: Entry = { frame, time, element: this.render(frame, time) };
    this.list.insertBefore(entry.element, this.entries[low]?.element ?? null);
    this.entries.splice(low, 0, entry);
    this.regroup(low);
    this.regroup(low + 1);
  }

  private render(frame: MessageFrame, time: number): HTMLLIElement {
    const own = frame.sender.userId === this.ownUserId;
    const name = displayName(frame.sender);
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

  private renderStatus(): void {
    const { loaded, hasMore, loading } = this.older;
    this.status.dataset.state = loading ? "loading" : hasMore ? "more" : loaded ? "start" : "waiting";
    if (loading) this.status.replaceChildren("Loading older messages…");
    else if (hasMore) this.status.replaceChildren(this.loadButton);
    else if (loaded && this.entries.length > 0) this.status.replaceChildren(`This is the start of #${this.room}.`);
    else this.status.replaceChildren();
    this.loadButton.disabled = !this.older.canLoad;
  }

  private updateEmpty(): void {
    const hasMessages = this.entries.length > 0;
    this.empty.hidden = hasMessages;
    this.scroller.classList.toggle("has-messages", hasMessages);
    this.empty.textContent = this.older.loaded ? `No messages in #${this.room} yet. Say hello!` : "Loading messages…";
    this.renderStatus();
  }

  /** A list too short to scroll cannot be scrolled to the top: fetch older messages until it fills or runs out. */
  private fillViewport(): void {
    if (this.element.hidden || this.entries.length === 0) return;
    if (this.scroller.scrollHeight <= this.scroller.clientHeight) this.maybeLoadOlder();
  }

  private maybeLoadOlder(): void {
    if (this.older.hasMore && !this.older.loading && this.older.canLoad) this.onNeedOlder();
  }

  private nearEnd(): boolean {
    return this.scroller.scrollHeight - this.scroller.scrollTop - this.scroller.clientHeight < 80;
  }
}
