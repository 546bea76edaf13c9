import { ErrorCode, LOBBY, type MessageFrame } from "../../../core/protocol.js";
import type { ConnectionState } from "../chat-socket.js";
import { displayName, onlineList } from "../rooms/room-state.js";
import type { RoomsController, RoomsEvent } from "../rooms/rooms-controller.js";
import { Composer, draftAfterRefusal } from "./composer.js";
import { el } from "./dom.js";
import { MessageList } from "./message-list.js";
import { OnlineList } from "./online-list.js";
import { RoomList } from "./room-list.js";

const DISABLED_REASON: Record<Exclude<ConnectionState["status"], "live">, string> = {
  "signed-out": "Signed out",
  connecting: "Connecting…",
  reconnecting: "Reconnecting… your text will wait here",
};

/** Announcements kept in the live region; older ones are removed (they have been read out). */
const MAX_ANNOUNCEMENTS = 5;
/** Long messages are announced in part; the list has the rest. */
const ANNOUNCE_CHARS = 280;

/**
 * The chat screen: the room list, the room on screen (its messages, who is online, the composer), and one live
 * region that reads out new messages in that room only. It draws what the `RoomsController` holds and hands it
 * what people do.
 */
export class ChatView {
  readonly element: HTMLElement;
  private readonly roomList: RoomList;
  private readonly online = new OnlineList();
  private readonly composer: Composer;
  private readonly panes = el("div", { class: "panes" });
  private readonly lists = new Map<string, MessageList>();
  private readonly title = el("h2", { class: "room-title", "data-testid": "room-title" });
  private readonly leaveButton = el(
    "button",
    { type: "button", class: "secondary leave-room", "data-testid": "leave-room" },
    "Leave",
  );
  private readonly announcer = el("div", {
    class: "sr-only",
    "aria-live": "polite",
    "aria-atomic": "false",
    "data-testid": "announcer",
  });
  private readonly drafts = new Map<string, string>();
  private connection: ConnectionState = { status: "connecting" };
  /** The room whose messages are on screen, to hide them when another is selected. */
  private shownRoom: string | undefined;
  private readonly offEvents: () => void;

  constructor(
    private readonly rooms: RoomsController,
    private readonly ownUserId: string,
  ) {
    this.roomList = new RoomList({
      select: (room) => rooms.select(room),
      join: (input) => {
        const result = rooms.joinByName(input);
        return result.ok ? undefined : result.problem;
      },
    });
    this.composer = new Composer((text) => rooms.sendMessage(text));
    this.element = el(
      "section",
      { class: "chat-layout", "aria-label": "Chat" },
      el("aside", { class: "side-panel" }, this.roomList.element, this.online.panel),
      el(
        "section",
        { class: "room-main", "aria-labelledby": "room-title" },
        el("header", { class: "room-header" }, this.title, this.online.compact, this.leaveButton),
        this.panes,
        this.composer.element,
        this.announcer,
      ),
    );
    this.title.id = "room-title";
    this.leaveButton.addEventListener("click", () => rooms.leave(rooms.selected));
    this.offEvents = rooms.onEvent((event) => this.handleEvent(event));
    this.renderRooms();
    this.showRoom(rooms.selected, undefined);
  }

  handleState(state: ConnectionState): void {
    this.connection = state;
    this.renderComposerState();
    this.renderOnline();
  }

  dispose(): void {
    this.offEvents();
    this.online.dispose();
  }

  private handleEvent(event: RoomsEvent): void {
    switch (event.type) {
      case "rooms":
        this.renderRooms();
        this.renderComposerState();
        break;
      case "selected":
        this.showRoom(event.room, this.shownRoom);
        break;
      case "messages":
        // A room never shown has no list yet: showRoom builds it from the state, which already holds these.
        this.lists.get(event.room)?.add(event.added, event.arrival);
        if (event.arrival === "live" && event.room === this.rooms.selected) this.announce(event.added);
        break;
      case "trimmed":
        this.lists.get(event.room)?.remove(event.removed);
        break;
      case "presence":
        if (event.room === this.rooms.selected) this.renderOnline();
        break;
      case "older":
        this.renderOlder(event.room);
        break;
      case "room-error":
        this.roomList.showError(event.message);
        break;
      case "send-error":
        this.composer.showError(errorText(event.code, event.message));
        if (event.unsent) this.restoreUnsent(event.unsent.room, event.unsent.text);
        break;
    }
  }

  private showRoom(room: string, previous: string | undefined): void {
    if (previous !== undefined && previous !== room) {
      this.drafts.set(previous, this.composer.takeDraft());
      this.lists.get(previous)?.setVisible(false);
    }
    this.shownRoom = room;
    this.title.replaceChildren(el("span", { class: "room-hash", "aria-hidden": "true" }, "#"), room);
    this.leaveButton.hidden = room === LOBBY;
    this.leaveButton.setAttribute("aria-label", `Leave #${room}`);
    this.composer.setDraft(this.drafts.get(room) ?? "");
    this.composer.showError("");
    this.composer.setLabel(`Message #${room}`);
    this.listFor(room).setVisible(true);
    this.renderOnline();
    this.renderComposerState();
    this.renderOlder(room);
  }

  /** A refused message goes back into its room's composer, on screen or kept as that room's draft. */
  private restoreUnsent(room: string, text: string): void {
    if (room === this.shownRoom) this.composer.restoreUnsent(text);
    else if (this.rooms.room(room)) this.drafts.set(room, draftAfterRefusal(this.drafts.get(room) ?? "", text));
  }

  private renderRooms(): void {
    const names = this.rooms.roomNames;
    this.roomList.render(
      names.map((name) => ({
        name,
        unread: this.rooms.room(name)?.unread ?? 0,
        selected: name === this.rooms.selected,
        joining: this.rooms.isLive() && !this.rooms.canSend(name),
      })),
    );
    // Rooms that are gone (left, refused) take their messages with them.
    for (const [name, list] of this.lists) {
      if (!names.includes(name)) {
        list.element.remove();
        this.lists.delete(name);
        this.drafts.delete(name);
      }
    }
  }

  private renderComposerState(): void {
    const room = this.rooms.selected;
    if (this.connection.status !== "live") {
      this.composer.setEnabled(false, DISABLED_REASON[this.connection.status]);
    } else if (!this.rooms.canSend(room)) {
      const again = this.rooms.isRetryingJoin(room) ? " The server did not answer; trying again." : "";
      this.composer.setEnabled(false, `Joining #${room}…${again}`);
    } else {
      this.composer.setEnabled(true);
    }
  }

  private renderOnline(): void {
    const room = this.rooms.room(this.rooms.selected);
    if (!room) return;
    const stale = this.connection.status !== "live";
    this.online.render(room.name, onlineList(room, this.ownUserId), this.ownUserId, stale);
  }

  private renderOlder(name: string): void {
    const room = this.rooms.room(name);
    const list = this.lists.get(name);
    if (!room || !list) return;
    list.setOlderState({
      loaded: room.loaded,
      hasMore: room.hasMoreOlder,
      loading: this.rooms.isLoadingOlder(name),
      canLoad: this.rooms.canSend(name),
    });
  }

  private listFor(room: string): MessageList {
    let list = this.lists.get(room);
    if (!list) {
      list = new MessageList(this.ownUserId, room, () => this.rooms.loadOlder(room));
      this.lists.set(room, list);
      this.panes.append(list.element);
      const state = this.rooms.room(room);
      if (state) list.add(state.messages, "initial");
      this.renderOlder(room);
    }
    return list;
  }

  /** Reads out new messages from others in the room on screen; your own you have just written. */
  private announce(messages: readonly MessageFrame[]): void {
    for (const message of messages) {
      if (message.sender.userId === this.ownUserId) continue;
      const name = displayName(message.sender);
      const text = message.text.length > ANNOUNCE_CHARS ? `${message.text.slice(0, ANNOUNCE_CHARS)}…` : message.text;
      this.announcer.append(el("p", {}, `${name}: ${text}`));
    }
    while (this.announcer.childElementCount > MAX_ANNOUNCEMENTS) this.announcer.firstElementChild?.remove();
  }
}

/**
 * Words for an error frame. Session errors are handled by the socket reconnecting with a renewed session, so the
 * server's "sign in again" would be wrong advice here; everything else is shown as the server phrased it.
 */
function errorText(code: string, message: string): string {
  switch (code) {
    case ErrorCode.SessionExpired:
    case ErrorCode.Unauthenticated:
      return "Your session needed renewing, so the chat is reconnecting. If your last message is missing, send it again.";
    case ErrorCode.InvalidToken:
    case ErrorCode.AuthUnavailable:
      return "";
    default:
      return message;
  }
}
