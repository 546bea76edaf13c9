import { el, srOnly } from "./dom.js";

export interface RoomListItem {
  name: string;
  unread: number;
  selected: boolean;
  /** The current connection is not in the room yet (joining, or rejoining after a reconnect). */
  joining: boolean;
}

export interface RoomListActions {
  select(room: string): void;
  /** Returns the problem with the name, if any; the form shows it. */
  join(input: string): string | undefined;
}

/**
 * The rooms: a side bar on wide screens, a strip of chips above the conversation on narrow ones (the same elements,
 * laid out by CSS). Each room is a button with its unread count; the form below joins a room by name, which creates
 * it if nobody has yet. On narrow screens the form sits behind a "+" button.
 */
export class RoomList {
  readonly element: HTMLElement;
  private readonly list: HTMLUListElement;
  private readonly buttons = new Map<string, { item: HTMLLIElement; button: HTMLButtonElement; badge: HTMLElement }>();
  private readonly form: HTMLFormElement;
  private readonly input: HTMLInputElement;
  private readonly error: HTMLParagraphElement;
  private readonly toggle: HTMLButtonElement;

  constructor(private readonly actions: RoomListActions) {
    this.list = el("ul", { class: "room-list", "data-testid": "room-list" });
    this.input = el("input", {
      id: "join-room-input",
      class: "join-input",
      name: "room",
      type: "text",
      autocomplete: "off",
      autocapitalize: "none",
      spellcheck: "false",
      maxlength: "40",
      placeholder: "room-name",
      "aria-describedby": "join-room-error",
      "data-testid": "join-input",
    });
    this.error = el("p", {
      id: "join-room-error",
      class: "join-error",
      "aria-live": "polite",
      "data-testid": "join-error",
    });
    this.form = el(
      "form",
      { id: "join-room-form", class: "join-form", "aria-label": "Join or create a room", "data-open": "false" },
      el("label", { for: this.input.id, class: "join-label" }, "Join or create a room"),
      el(
        "div",
        { class: "join-row" },
        this.input,
        el("button", { type: "submit", class: "secondary", "data-testid": "join-submit" }, "Join"),
      ),
    );
    this.toggle = el(
      "button",
      {
        type: "button",
        class: "room-add",
        "aria-expanded": "false",
        "aria-controls": this.form.id,
        "aria-label": "Join or create a room",
        title: "Join or create a room",
        "data-testid": "room-add",
      },
      "+",
    );
    this.element = el(
      "nav",
      { class: "rooms-panel", "aria-label": "Rooms" },
      el("h2", { class: "panel-title" }, "Rooms"),
      el("div", { class: "room-strip" }, this.list, this.toggle),
      this.form,
      // Outside the form, which narrow screens fold away: a live region that is not rendered is not read out.
      this.error,
    );

    this.toggle.addEventListener("click", () => this.setFormOpen(this.form.dataset.open !== "true"));
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      const problem = this.actions.join(this.input.value);
      this.showError(problem ?? "");
      this.input.setAttribute("aria-invalid", String(problem !== undefined));
      if (problem === undefined) {
        this.input.value = "";
        this.setFormOpen(false);
      } else {
        this.input.focus();
      }
    });
    this.form.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && this.form.dataset.open === "true") {
        this.setFormOpen(false);
        this.toggle.focus();
      }
    });
  }

  render(items: readonly RoomListItem[]): void {
    const names = new Set(items.map((item) => item.name));
    for (const [name, row] of this.buttons) {
      if (!names.has(name)) {
        row.item.remove();
        this.buttons.delete(name);
      }
    }
    items.forEach((item, index) => {
      const row = this.buttons.get(item.name) ?? this.createRow(item.name);
      // Keep DOM order = list order (lobby first, then alphabetical) without rebuilding the rows.
      if (this.list.children[index] !== row.item) this.list.insertBefore(row.item, this.list.children[index] ?? null);
      if (item.selected && row.button.getAttribute("aria-current") !== "true") {
        row.button.setAttribute("aria-current", "true");
        // In the narrow strip, a room selected by joining it may be scrolled out of sight.
        queueMicrotask(() => row.button.scrollIntoView({ block: "nearest", inline: "nearest" }));
      } else if (!item.selected) {
        row.button.removeAttribute("aria-current");
      }
      row.button.dataset.joining = String(item.joining);
      row.badge.hidden = item.unread === 0;
      // Every `rooms` event renders every room: rebuild a badge only when its count changed.
      if (row.badge.dataset.unread !== String(item.unread)) {
        row.badge.dataset.unread = String(item.unread);
        const count = item.unread > 99 ? "99+" : String(item.unread);
        row.badge.replaceChildren(el("span", { "aria-hidden": "true" }, count), srOnly(`, ${item.unread} unread`));
      }
    });
  }

  /** Shows a problem without moving focus: it may be about a room joined in the background (or in another tab). */
  showError(message: string): void {
    this.error.textContent = message;
  }

  private createRow(name: string) {
    const badge = el("span", { class: "badge", "data-testid": "unread", hidden: true });
    const button = el(
      "button",
      { type: "button", class: "room-button", "data-room": name, "data-testid": "room" },
      el("span", { class: "room-hash", "aria-hidden": "true" }, "#"),
      el("span", { class: "room-name" }, name),
      badge,
    );
    button.addEventListener("click", () => {
      this.actions.select(name);
      this.setFormOpen(false);
    });
    const row = { item: el("li", {}, button), button, badge };
    this.buttons.set(name, row);
    return row;
  }

  /** On narrow screens the form is folded away; wide screens always show it (CSS ignores `data-open` there). */
  private setFormOpen(open: boolean): void {
    this.form.dataset.open = String(open);
    this.toggle.setAttribute("aria-expanded", String(open));
    if (open) queueMicrotask(() => this.input.focus());
  }
}
