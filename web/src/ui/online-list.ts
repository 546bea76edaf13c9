import type { ChatUser } from "../../../core/protocol.js";
import { displayName } from "../rooms/room-state.js";
import { el, srOnly } from "./dom.js";

/**
 * Who is online in the room on screen, twice over: a list in the side bar on wide screens, and a "3 online" button
 * with a pop-over list on narrow ones. CSS shows one or the other; `display: none` keeps the hidden one out of the
 * accessibility tree, so nobody hears it twice.
 */
export class OnlineList {
  /** For the side bar. */
  readonly panel: HTMLElement;
  /** For the room header: the button and its pop-over. */
  readonly compact: HTMLElement;
  private readonly heading: HTMLHeadingElement;
  private readonly list: HTMLUListElement;
  private readonly toggle: HTMLButtonElement;
  private readonly popoverList: HTMLUListElement;
  private readonly popover: HTMLElement;

  constructor() {
    this.heading = el("h2", { class: "panel-title", id: "online-title" }, "Online");
    this.list = el("ul", { class: "online-list", "aria-labelledby": this.heading.id, "data-testid": "online-list" });
    this.panel = el("section", { class: "online-panel" }, this.heading, this.list);

    this.popoverList = el("ul", { class: "online-list", "data-testid": "online-popover-list" });
    this.popover = el(
      "div",
      { id: "online-popover", class: "online-popover", hidden: true, "data-testid": "online-popover" },
      this.popoverList,
    );
    this.toggle = el("button", {
      type: "button",
      class: "online-toggle secondary",
      "aria-expanded": "false",
      "aria-controls": this.popover.id,
      "data-testid": "online-toggle",
    });
    this.compact = el("div", { class: "online-compact" }, this.toggle, this.popover);

    this.toggle.addEventListener("click", () => this.setOpen(this.popover.hidden));
    this.compact.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && !this.popover.hidden) {
        this.setOpen(false);
        this.toggle.focus();
      }
    });
    document.addEventListener("click", this.closeOnOutsideClick);
  }

  dispose(): void {
    document.removeEventListener("click", this.closeOnOutsideClick);
  }

  private readonly closeOnOutsideClick = (event: MouseEvent) => {
    if (!this.popover.hidden && !this.compact.contains(event.target as Node)) this.setOpen(false);
  };

  /** `stale`: the connection is down, so the list is what it was when last known (shown faded). */
  render(room: string, users: readonly ChatUser[], ownUserId: string, stale: boolean): void {
    const count = users.length;
    this.heading.textContent = `Online in #${room} · ${count}`;
    this.toggle.replaceChildren(
      el("span", { class: "online-dot", "aria-hidden": "true" }),
      `${count} online`,
      srOnly(` in #${room}`),
    );
    this.toggle.classList.toggle("stale", stale);
    for (const list of [this.list, this.popoverList]) {
      list.classList.toggle("stale", stale);
      list.replaceChildren(
        ...users.map((user) =>
          el(
            "li",
            { class: "online-user", title: user.userId, "data-user-id": user.userId },
            el("span", { class: "online-dot", "aria-hidden": "true" }),
            el("span", { class: "online-name" }, displayName(user)),
            user.userId === ownUserId && el("span", { class: "online-you" }, " (you)"),
          ),
        ),
      );
    }
  }

  private setOpen(open: boolean): void {
    this.popover.hidden = !open;
    this.toggle.setAttribute("aria-expanded", String(open));
  }
}
