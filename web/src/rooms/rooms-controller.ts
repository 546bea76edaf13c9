import { ErrorCode, type ErrorFrame, type HistoryFrame, LOBBY, type MessageFrame } from "../../../core/protocol.js";
import { Backoff, type BackoffOptions } from "../backoff.js";
import type { ConnectionState } from "../chat-socket.js";
import {
  type ClientFrame,
  type GatewayErrorFrame,
  type GatewayErrorReason,
  historyFrame,
  type IncomingFrame,
  joinFrame,
  leaveFrame,
  sendMessageFrame,
} from "../frames.js";
import { type BackgroundRequest, RequestQueue, type RequestQueueOptions } from "./request-queue.js";
import {
  type Arrival,
  applyHistory,
  applyJoined,
  applyLeft,
  applyPresence,
  compareIds,
  emptyRoom,
  type HistoryAnswer,
  hasGap,
  lastId,
  MAX_ROOMS,
  type Merged,
  markRead,
  markReadUpTo,
  mergeMessages,
  oldestId,
  parseRoomName,
  type RoomState,
  sortRoomNames,
  trimOldest,
} from "./room-state.js";
import { loadRoomList, type RoomListChange, updateRoomList } from "./stored-rooms.js";

/** What changed, for the views to redraw just that. */
export type RoomsEvent =
  /** The room list: rooms, unread counts, which ones this connection is in. */
  | { type: "rooms" }
  | { type: "selected"; room: string }
  | { type: "messages"; room: string; added: MessageFrame[]; arrival: Arrival }
  | { type: "trimmed"; room: string; removed: MessageFrame[] }
  | { type: "presence"; room: string }
  /** Whether older messages exist, or are being fetched. */
  | { type: "older"; room: string }
  /** The server refused a room: the words go next to the room form. */
  | { type: "room-error"; message: string }
  /**
   * An error about a message the person sent: the words go under the input. `unsent`: the message it refused, whose
   * text goes back into that room's composer (it was cleared on send) unless something new was typed there since.
   */
  | { type: "send-error"; code: string; message: string; unsent?: { room: string; text: string } };

export interface RoomsControllerOptions {
  ownUserId: string;
  /** Hands a frame to the socket; false when the connection is not live. */
  send(frame: ClientFrame): boolean;
  /** Where the joined rooms are kept between visits; undefined keeps them for this page only. */
  storage?: Pick<Storage, "getItem" | "setItem"> | undefined;
  /**
   * A gap is filled only if it is still there this much later: messages sent at once may arrive out of order.
   * @default 1000
   */
  gapFillDelayMs?: number;
  /**
   * Rooms keep at most this many messages (the room on screen up to five times as many, until it leaves the screen);
   * older ones can be fetched again by scrolling. @default 1000
   */
  maxMessagesPerRoom?: number;
  /** The server's rate limit and the queue's timing; the controller supplies the rest. */
  queue?: Pick<RequestQueueOptions, "burst" | "perSecond" | "reserve" | "timeoutMs">;
  /** Delays between retries of a join that failed. @default DEFAULT_BACKOFF */
  joinBackoff?: BackoffOptions;
  /**
   * Whether the page can be seen (`document.visibilityState === "visible"`): the selected room's messages are read as
   * they come only then. @default always
   */
  isPageVisible?: () => boolean;
  now?: () => number;
}

/** A message this page sent, until it comes back. */
interface SentMessage {
  room: string;
  /** As the server stores it: trimmed. */
  text: string;
  sentAt: number;
  /** The room's newest id when it was sent: its echo comes after, and an older message with the same text is not it. */
  after?: string;
}

/** Errors that mean "this room cannot be joined": the room leaves the list. */
const ROOM_REFUSED = new Set<string>([ErrorCode.InvalidRoom, ErrorCode.TooManyRooms]);
/** The room on screen holds up to this many times `maxMessagesPerRoom` before it is trimmed (see `afterMerge`). */
const ON_SCREEN_SLACK = 5;
/** Joins refused with `too_many_rooms` tried again (see `onError`) before the room is given up. */
const CAP_RETRIES = 3;
/** Errors a request would earn again if sent again as it is: not retried. */
const REQUEST_REFUSED = new Set<string>([ErrorCode.InvalidJson, ErrorCode.UnknownAction, ErrorCode.InvalidCursor]);
/** An error for a room within this long of a message sent there is about that message. */
const SEND_ERROR_WINDOW_MS = 3000;
/** How long a message sent may still fail: API Gateway gives its integration 29 s. */
const UNECHOED_WINDOW_MS = 30_000;
/** What API Gateway's own errors mean to the person: it does not say whether their message was the one refused. */
const GATEWAY_ERROR_TEXT: Record<GatewayErrorReason, string> = {
  throttled: "The chat is busy just now. If your message does not appear, wait a moment and send it again.",
  failed: "Something went wrong on the server. If your message does not appear, send it again.",
  "timed-out": "The server took too long to answer. If your message does not appear, send it again.",
};
/** Longest a read mark waits to be written to storage. */
const READ_MARKS_WRITE_DELAY_MS = 1000;

/** How the page reads the next `history` frame of a room: set when a request is sent, kept until the next one. */
type Expecting = { kind: "initial" } | { kind: "newer"; after: string } | { kind: "older"; before: string };

/**
 * The rooms of one signed-in person over one `ChatSocket`: which rooms, their messages, unread counts and who is
 * online, and every request that keeps them complete. No DOM: views subscribe with `onEvent` and read the state.
 *
 * The guarantee: whenever the connection goes live, it joins every room with `after` = the room's frontier (see
 * `room-state.ts`), follows `hasMore` until caught up, and fills any gap that live delivery leaves, so the list ends
 * up holding every message, in order, once.
 */
export class RoomsController {
  private readonly rooms = new Map<string, RoomState>();
  private selectedRoom = LOBBY;
  /** Rooms the current connection is in (the server answered the join); the lobby from the start. */
  private readonly member = new Set<string>();
  private live = false;
  private readonly loadingOlder = new Set<string>();
  private readonly expecting = new Map<string, Expecting>();
  private readonly gapTimers = new Map<string, ReturnType<typeof setTimeout>>();
  private readMarksTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly lastSentAt = new Map<string, number>();
  /** Messages this page sent and has not seen come back yet, oldest first. */
  private unechoed: SentMessage[] = [];
  /** Rooms whose `newer` failed once on this connection and was sent again; a second failure waits. */
  private readonly retried = new Set<string>();
  /** Failed joins, by room, on this connection: until one succeeds, each is tried again after a longer wait. */
  private readonly joinRetries = new Map<string, { backoff: Backoff; timer?: ReturnType<typeof setTimeout> }>();
  private readonly listeners = new Set<(event: RoomsEvent) => void>();
  private readonly queue: RequestQueue;
  private readonly now: () => number;
  private readonly storageKey: string;

  constructor(private readonly options: RoomsControllerOptions) {
    this.now = options.now ?? Date.now;
    this.storageKey = `chat.rooms.${options.ownUserId}`;
    this.queue = new RequestQueue({
      ...options.queue,
      now: this.now,
      build: (request) => this.build(request),
      send: (frame) => options.send(frame),
      onTimeout: (request) => this.requestFailed(request),
    });
    const stored = loadRoomList(options.storage, this.storageKey);
    for (const name of stored.rooms) this.rooms.set(name, emptyRoom(name, stored.readUpTo[name]));
    this.selectedRoom = stored.selected; // always one of stored.rooms
  }

  onEvent(listener: (event: RoomsEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // ---- reading ----

  get selected(): string {
    return this.selectedRoom;
  }

  /** The lobby first, then the others alphabetically. */
  get roomNames(): string[] {
    return sortRoomNames(this.rooms.keys());
  }

  room(name: string): RoomState | undefined {
    return this.rooms.get(name);
  }

  /** Messages can be sent to the room now: live, and in it. */
  canSend(room = this.selectedRoom): boolean {
    return this.live && this.member.has(room);
  }

  isLive(): boolean {
    return this.live;
  }

  /** Whether the room's join failed and is waiting to be tried again. */
  isRetryingJoin(room: string): boolean {
    return this.joinRetries.has(room) && !this.member.has(room);
  }

  isLoadingOlder(room: string): boolean {
    return this.loadingOlder.has(room);
  }

  get totalUnread(): number {
    let total = 0;
    for (const room of this.rooms.values()) total += room.unread;
    return total;
  }

  // ---- acting ----

  /** Shows a room: its unread count is cleared. */
  select(name: string): void {
    const room = this.rooms.get(name);
    if (!room) return;
    this.joinAgain(name);
    if (name === this.selectedRoom) return;
    const left = this.rooms.get(this.selectedRoom);
    if (left && left.messages.length > this.maxMessages()) this.trim(left.name, left); // off screen now
    this.selectedRoom = name;
    this.rooms.set(name, markRead(room));
    this.persist({ selected: name });
    this.emit({ type: "selected", room: name });
    this.emit({ type: "rooms" });
  }

  /** The page is seen again: what came in the selected room meanwhile is read now. */
  pageShown(): void {
    const room = this.rooms.get(this.selectedRoom);
    if (!room || !this.onScreen(room.name)) return;
    const read = markRead(room);
    if (read === room) return;
    this.rooms.set(room.name, read);
    if (read.readUpTo !== room.readUpTo) this.persistReadMarksSoon();
    this.emit({ type: "rooms" });
  }

  /** Joins (and so creates) a room by what someone typed, and shows it. Returns the problem, if any. */
  joinByName(input: string): { ok: true; room: string } | { ok: false; problem: string } {
    const parsed = parseRoomName(input);
    if (!parsed.ok) return parsed;
    const { name } = parsed;
    if (!this.rooms.has(name)) {
      if (this.rooms.size >= MAX_ROOMS) {
        return { ok: false, problem: `You can be in at most ${MAX_ROOMS} rooms. Leave one first.` };
      }
      this.rooms.set(name, emptyRoom(name));
      if (this.live) this.queue.enqueue({ room: name, kind: "join" }, { urgent: true });
      this.persist({ joined: name });
    }
    this.select(name);
    return { ok: true, room: name };
  }

  /** Leaves a room for good (until joined again). The lobby cannot be left: every connection is in it. */
  leave(name: string): void {
    if (name === LOBBY || !this.rooms.has(name)) return;
    this.forgetRoom(name);
    if (this.live) this.queue.enqueue({ room: name, kind: "leave" });
  }

  /**
   * Takes in what another tab of the same person changed, on its `storage` event for `key`: rooms joined or left
   * there are joined or left here, and read marks move forward. Which room is on screen stays this tab's own.
   */
  syncFromStorage(key: string | null): void {
    if (!this.options.storage || (key !== null && key !== this.storageKey)) return;
    const stored = loadRoomList(this.options.storage, this.storageKey);
    // Leave first: at the room cap, a room left there makes the space for one joined there (here and on the server).
    for (const name of this.roomNames) {
      if (!stored.rooms.includes(name)) this.leave(name);
    }
    let changed = false;
    for (const name of stored.rooms) {
      if (this.rooms.has(name) || this.rooms.size >= MAX_ROOMS) continue;
      this.rooms.set(name, emptyRoom(name, stored.readUpTo[name]));
      if (this.live) this.queue.enqueue({ room: name, kind: "join" });
      changed = true;
    }
    for (const [name, id] of Object.entries(stored.readUpTo)) {
      const room = this.rooms.get(name);
      const marked = room && markReadUpTo(room, id, this.options.ownUserId);
      if (!marked || marked === room) continue;
      this.rooms.set(name, marked);
      changed = true;
    }
    if (changed) this.emit({ type: "rooms" });
  }

  /** Fetches a page of older messages, when there are some and none are on their way. */
  loadOlder(name: string): void {
    const room = this.rooms.get(name);
    if (!room?.hasMoreOlder || !this.canSend(name) || this.loadingOlder.has(name)) return;
    this.loadingOlder.add(name);
    this.queue.enqueue({ room: name, kind: "older" }, { urgent: true });
    this.emit({ type: "older", room: name });
  }

  /** Sends a message to the selected room; false when it could not be handed to the socket. */
  sendMessage(text: string): boolean {
    const room = this.selectedRoom;
    const state = this.rooms.get(room);
    const frame = sendMessageFrame(room, text);
    if (!state || !this.canSend(room) || !this.options.send(frame)) return false;
    this.queue.spend();
    this.lastSentAt.set(room, this.now());
    this.unechoed.push({ room, text: frame.text, sentAt: this.now(), after: lastId(state) });
    return true;
  }

  /** Stops timers; the controller is not used again. */
  dispose(): void {
    this.flushStorage();
    this.queue.reset();
    this.clearGapTimers();
    this.clearJoinRetries();
    this.listeners.clear();
  }

  // ---- the connection ----

  handleState(state: ConnectionState): void {
    const live = state.status === "live";
    if (live === this.live) return;
    this.live = live;
    this.queue.reset();
    this.member.clear();
    this.retried.clear();
    this.unechoed = [];
    this.clearJoinRetries();
    this.expecting.clear();
    this.loadingOlder.clear();
    this.clearGapTimers();
    if (live) {
      // Every connection starts in the lobby, so messages can go there at once; its join brings history and presence.
      this.member.add(LOBBY);
      // The room on screen first, then the lobby, then the rest: each rejoin also catches the room up.
      const order = [this.selectedRoom, ...this.roomNames.filter((name) => name !== this.selectedRoom)];
      for (const room of order) this.queue.enqueue({ room, kind: "join" });
    }
    this.emit({ type: "rooms" });
    for (const room of this.rooms.keys()) this.emit({ type: "older", room });
  }

  handleFrame(frame: IncomingFrame): void {
    switch (frame.type) {
      case "message":
        this.onMessage(frame);
        break;
      case "history":
        this.onHistory(frame);
        break;
      case "presence":
        // Presence ends the answer to a join: the connection is in the room.
        this.queue.settle(frame.room, "presence");
        if (this.enterRoom(frame.room)) this.emit({ type: "rooms" });
        this.updatePresence(frame.room, (room) => applyPresence(room, frame.users, frame.version));
        break;
      case "joined":
        this.updatePresence(frame.room, (room) => applyJoined(room, frame.user, frame.version));
        break;
      case "left":
        this.updatePresence(frame.room, (room) => applyLeft(room, frame.user, frame.version));
        break;
      case "error":
        this.onError(frame);
        break;
      case "gateway-error":
        this.onGatewayError(frame);
        break;
      case "refreshed":
        break;
    }
  }

  private onMessage(frame: MessageFrame): void {
    this.echoed([frame]);
    const room = this.rooms.get(frame.room);
    if (!room) return; // a room just left: its last messages may still be on their way
    this.merge(frame.room, room, [frame], "live");
  }

  /**
   * Messages of this page's own that came back, live or in a history answer: the server took them. Matched by room
   * and text, since the person's other tabs send too.
   */
  private echoed(messages: MessageFrame[]): void {
    for (const message of messages) {
      if (message.sender.userId !== this.options.ownUserId) continue;
      this.dropUnechoed(
        (sent) =>
          sent.room === message.room &&
          sent.text === message.text &&
          (sent.after === undefined || compareIds(message.id, sent.after) > 0),
      );
    }
  }

  /** Forgets the oldest message not seen back yet that `matches`, if there is one, and returns it. */
  private dropUnechoed(matches: (sent: SentMessage) => boolean): SentMessage | undefined {
    const at = this.unechoed.findIndex(matches);
    return at >= 0 ? this.unechoed.splice(at, 1)[0] : undefined;
  }

  private onHistory(frame: HistoryFrame): void {
    const name = frame.room;
    this.queue.settle(name, "history");
    this.echoed(frame.messages);
    const room = this.rooms.get(name);
    if (!room) return;
    // A history frame proves the join went through, even if its presence frame is still to come.
    const entered = this.enterRoom(name);
    const answer = this.answerFor(name, frame);
    const selected = this.onScreen(name);
    const result = applyHistory(room, frame, answer, { ownUserId: this.options.ownUserId, selected });
    if (answer.kind === "older") this.loadingOlder.delete(name);
    const arrival: Arrival = answer.kind === "unattributed" ? "newer" : answer.kind;
    this.commit(name, room, result, arrival);
    if (result.continueAfter) this.queue.enqueue({ room: name, kind: "newer" });
    this.afterMerge(name, arrival);
    this.emit({ type: "older", room: name });
    if (entered || result.room.unread !== room.unread) this.emit({ type: "rooms" });
  }

  /**
   * Which request a `history` frame answers. The last request sent for the room, unless the frame cannot belong to
   * it (a late part of an earlier answer): then it is taken for its messages alone.
   */
  private answerFor(room: string, frame: HistoryFrame): HistoryAnswer {
    const expecting = this.expecting.get(room);
    const first = frame.messages[0]?.id;
    const last = frame.messages.at(-1)?.id;
    if (!expecting) return { kind: "unattributed" };
    if (expecting.kind === "newer" && first !== undefined && compareIds(first, expecting.after) <= 0) {
      return { kind: "unattributed" };
    }
    if (expecting.kind === "older" && last !== undefined && compareIds(last, expecting.before) >= 0) {
      return { kind: "unattributed" };
    }
    return expecting.kind === "older" ? { kind: "older" } : expecting;
  }

  private merge(name: string, room: RoomState, messages: MessageFrame[], arrival: Arrival): void {
    const selected = this.onScreen(name);
    const merged = mergeMessages(room, messages, { arrival, ownUserId: this.options.ownUserId, selected });
    if (merged.added.length === 0) return;
    this.commit(name, room, merged, arrival);
    if (merged.room.unread !== room.unread) this.emit({ type: "rooms" });
    this.afterMerge(name, arrival);
  }

  /** The room's messages can be seen: it is selected, and the page is not hidden (another tab, minimised). */
  private onScreen(name: string): boolean {
    return name === this.selectedRoom && (this.options.isPageVisible?.() ?? true);
  }

  private maxMessages(): number {
    return this.options.maxMessagesPerRoom ?? 1000;
  }

  /** Drops the room's oldest messages past the limit, and tells the views; returns the room as it is now. */
  private trim(name: string, room: RoomState): RoomState {
    const trimmed = trimOldest(room, this.maxMessages());
    if (trimmed.removed.length === 0) return room;
    this.rooms.set(name, trimmed.room);
    this.emit({ type: "trimmed", room: name, removed: trimmed.removed });
    this.emit({ type: "older", room: name });
    return trimmed.room;
  }

  /** Keeps a merge's result: the room, its read mark (soon), and the new messages for the views. */
  private commit(name: string, before: RoomState, result: Merged, arrival: Arrival): void {
    this.rooms.set(name, result.room);
    if (result.room.readUpTo !== before.readUpTo) this.persistReadMarksSoon();
    if (result.added.length > 0) this.emit({ type: "messages", room: name, added: result.added, arrival });
  }

  /** Trims long rooms, and plans a gap fill when the room now holds messages beyond a hole. */
  private afterMerge(name: string, arrival: Arrival): void {
    let room = this.rooms.get(name);
    if (!room) return;
    if (arrival === "live" || arrival === "newer") {
      // The room on screen may be scrolled back: trimmed at every message, it would pull away what the person reads
      // (and scrolling back would fetch it again). It is trimmed when it leaves the screen, or in one go past five
      // times the limit.
      const max = this.maxMessages();
      if (room.messages.length > (this.onScreen(name) ? ON_SCREEN_SLACK * max : max)) room = this.trim(name, room);
    }
    if (hasGap(room) && this.live && !this.gapTimers.has(name)) {
      // Not at once: messages sent together can arrive out of order, and the missing one is usually a moment away.
      const timer = setTimeout(() => {
        this.gapTimers.delete(name);
        const current = this.rooms.get(name);
        if (current && hasGap(current) && this.live) this.queue.enqueue({ room: name, kind: "fill" });
      }, this.options.gapFillDelayMs ?? 1000);
      this.gapTimers.set(name, timer);
    }
  }

  private clearGapTimers(): void {
    for (const timer of this.gapTimers.values()) clearTimeout(timer);
    this.gapTimers.clear();
  }

  private updatePresence(name: string, change: (room: RoomState) => RoomState): void {
    const room = this.rooms.get(name);
    if (!room) return;
    const next = change(room);
    if (next === room) return;
    this.rooms.set(name, next);
    this.emit({ type: "presence", room: name });
  }

  /**
   * A join's answer (history or presence) came: the room can be written to. Not for a room left meanwhile. True
   * when that is news, which the room list shows.
   */
  private enterRoom(name: string): boolean {
    this.stopJoinRetry(name);
    if (!this.rooms.has(name) || this.member.has(name)) return false;
    this.member.add(name);
    return true;
  }

  private onError(frame: ErrorFrame): void {
    const name = frame.room;
    if (name === undefined) {
      this.emit({ type: "send-error", code: frame.code, message: frame.message });
      return;
    }
    const inFlight = this.queue.inFlight;
    const forRequest = inFlight?.room === name;
    const sentAt = this.lastSentAt.get(name);
    const aboutMessage = sentAt !== undefined && this.now() - sentAt < SEND_ERROR_WINDOW_MS;
    // Told about it: not again. Answers need not come in order (each frame has a Lambda of its own), so which message
    // was refused is known only when it was the one of the room on its way: then its text can go back.
    const onItsWay = this.unechoed.filter((sent) => sent.room === name).length;
    const refused = aboutMessage ? this.dropUnechoed((sent) => sent.room === name) : undefined;
    const unsent = refused && onItsWay === 1 ? { room: refused.room, text: refused.text } : undefined;
    const tellSender = (message = frame.message) =>
      this.emit({ type: "send-error", code: frame.code, message, unsent });

    if (!this.rooms.has(name)) {
      // A room already left (a `leave` answered with not_a_member, a refused join's echo): nothing to show.
      if (forRequest) this.queue.settle(name, "error");
      return;
    }
    if (frame.code === ErrorCode.RateLimited) {
      if (forRequest) this.queue.throttled();
      if (aboutMessage || !forRequest) tellSender();
      return;
    }
    // The page never holds more rooms than the server allows, so `too_many_rooms` means a `leave` sent just before
    // (it has no answer) has not been done yet: the join is tried again, a few times, before the room is given up.
    const overtookLeave =
      frame.code === ErrorCode.TooManyRooms && (this.joinRetries.get(name)?.backoff.attempts ?? 0) < CAP_RETRIES;
    const roomRefused = ROOM_REFUSED.has(frame.code) && !overtookLeave;
    if (forRequest && inFlight) {
      this.queue.settle(name, "error");
      const handledBelow = roomRefused || frame.code === ErrorCode.NotAMember;
      if (!handledBelow) this.requestFailed(inFlight, frame.code);
    }
    if (overtookLeave) return;
    if (roomRefused && name !== LOBBY) {
      this.forgetRoom(name);
      this.emit({ type: "room-error", message: `Could not join #${name}: ${frame.message}` });
      return;
    }
    if (frame.code === ErrorCode.NotAMember) {
      // The server does not have this connection in the room (it dropped the membership, say after taking the
      // connection for gone during a network blip): join again, which also catches up.
      this.member.delete(name);
      this.stopLoadingOlder(name);
      if (this.live) this.queue.enqueue({ room: name, kind: "join" }, { urgent: true });
      this.emit({ type: "rooms" });
      if (aboutMessage) {
        tellSender(`You were not in #${name} on the server; rejoining. Send your message again in a moment.`);
      }
      return;
    }
    if (aboutMessage || !forRequest) tellSender();
  }

  /**
   * API Gateway's own error (see `GatewayErrorFrame`), which names no room, read as `onError` reads a typed one: about
   * a message sent and not seen back yet (the person is told), else about the background request in flight (there
   * is one at a time), which is sent again. With neither, it answered something else (a `refresh`, which `ChatSocket`
   * sends again unanswered, or a `leave`): nothing to show.
   */
  private onGatewayError(frame: GatewayErrorFrame): void {
    // The message handler can take up to API Gateway's 29 s to fail ("Endpoint request timed out").
    const now = this.now();
    this.unechoed = this.unechoed.filter((sent) => now - sent.sentAt < UNECHOED_WINDOW_MS);
    const onItsWay = this.unechoed.length;
    const refused = this.unechoed.shift();
    const inFlight = this.queue.inFlight;
    if (refused) {
      // Its text goes back only when it is surely the one refused, and surely not stored: a timed-out handler may
      // still have saved and sent it.
      const sure = onItsWay === 1 && frame.reason !== "timed-out";
      const unsent = sure ? { room: refused.room, text: refused.text } : undefined;
      this.emit({ type: "send-error", code: frame.reason, message: GATEWAY_ERROR_TEXT[frame.reason], unsent });
    } else if (inFlight && frame.reason === "throttled") {
      this.queue.throttled();
    } else if (inFlight) {
      this.queue.settle(inFlight.room, "error");
      this.requestFailed(inFlight);
    }
  }

  /**
   * A background request failed (an error frame, or no answer in time). A page of older messages can be asked for
   * again by scrolling, and a gap is asked about again when the next message arrives; the rest of a catch-up is sent
   * once more. A join is tried again and again, each time after a longer wait: until it succeeds the room shows
   * "Joining…" with no way to write, and nothing else would try before the next connection.
   */
  private requestFailed(request: BackgroundRequest, code?: string): void {
    const { room, kind } = request;
    if (kind === "older") this.stopLoadingOlder(room);
    if (!this.live || (code !== undefined && REQUEST_REFUSED.has(code))) return;
    if (kind === "newer" && !this.retried.has(room)) {
      this.retried.add(room);
      this.queue.enqueue(request);
    }
    if (kind === "join" && this.rooms.has(room)) {
      const retry = this.joinRetries.get(room) ?? { backoff: new Backoff(this.options.joinBackoff) };
      this.joinRetries.set(room, retry);
      clearTimeout(retry.timer);
      retry.timer = setTimeout(() => {
        retry.timer = undefined;
        if (this.live && this.rooms.has(room) && !this.queue.has(room, "join")) this.queue.enqueue(request);
      }, retry.backoff.next());
      this.emit({ type: "rooms" }); // the room says it is trying again
    }
  }

  /**
   * Someone picked a room the connection is not in, with no join on its way (the last one failed): join it now
   * rather than at the end of the wait.
   */
  private joinAgain(name: string): void {
    if (!this.live || this.member.has(name) || this.queue.has(name, "join")) return;
    const retry = this.joinRetries.get(name);
    clearTimeout(retry?.timer);
    if (retry) retry.timer = undefined;
    this.queue.enqueue({ room: name, kind: "join" }, { urgent: true });
  }

  private stopJoinRetry(name: string): void {
    clearTimeout(this.joinRetries.get(name)?.timer);
    this.joinRetries.delete(name);
  }

  private clearJoinRetries(): void {
    for (const retry of this.joinRetries.values()) clearTimeout(retry.timer);
    this.joinRetries.clear();
  }

  private stopLoadingOlder(name: string): void {
    if (this.loadingOlder.delete(name)) this.emit({ type: "older", room: name });
  }

  // ---- requests ----

  /** The frame for a background request, from the state now; undefined when it has become pointless. */
  private build(request: BackgroundRequest): ClientFrame | undefined {
    const { room: name, kind } = request;
    if (kind === "leave") return this.rooms.has(name) ? undefined : leaveFrame(name);
    const room = this.rooms.get(name);
    if (!room) return undefined;
    switch (kind) {
      case "join": {
        // Catch up from the frontier, or a plain join (recent history) when the room never loaded.
        const after = room.frontier;
        this.expecting.set(name, after === undefined ? { kind: "initial" } : { kind: "newer", after });
        return joinFrame(name, after);
      }
      case "fill":
        // The gap closed meanwhile, or a catch-up already under way will close it.
        if (!hasGap(room) || this.queue.has(name, "newer") || this.queue.has(name, "join")) return undefined;
        return this.newer(name, room);
      case "newer":
        return this.newer(name, room);
      case "older": {
        const before = oldestId(room);
        if (before === undefined || !room.hasMoreOlder) {
          this.stopLoadingOlder(name);
          return undefined;
        }
        this.expecting.set(name, { kind: "older", before });
        return historyFrame(name, { before });
      }
    }
  }

  private newer(name: string, room: RoomState): ClientFrame | undefined {
    const after = room.frontier;
    if (after === undefined) return undefined;
    this.expecting.set(name, { kind: "newer", after });
    return historyFrame(name, { after });
  }

  private forgetRoom(name: string): void {
    this.unechoed = this.unechoed.filter((sent) => sent.room !== name);
    this.rooms.delete(name);
    this.member.delete(name);
    this.expecting.delete(name);
    this.loadingOlder.delete(name);
    clearTimeout(this.gapTimers.get(name));
    this.gapTimers.delete(name);
    this.stopJoinRetry(name);
    this.queue.drop(name);
    const wasSelected = this.selectedRoom === name;
    if (wasSelected) {
      this.selectedRoom = LOBBY;
      const lobby = this.rooms.get(LOBBY) ?? emptyRoom(LOBBY);
      this.rooms.set(LOBBY, this.onScreen(LOBBY) ? markRead(lobby) : lobby);
      this.emit({ type: "selected", room: LOBBY });
    }
    this.persist({ left: name, ...(wasSelected ? { selected: LOBBY } : {}) });
    this.emit({ type: "rooms" });
  }

  /** Writes this tab's change, with its read marks, into the list the person's tabs share (`updateRoomList`). */
  private persist(change: RoomListChange = {}): void {
    clearTimeout(this.readMarksTimer);
    this.readMarksTimer = undefined;
    const readUpTo: Record<string, string | undefined> = {};
    for (const room of this.rooms.values()) readUpTo[room.name] = room.readUpTo;
    updateRoomList(this.options.storage, this.storageKey, { ...change, readUpTo });
  }

  /**
   * Read marks move with every message in the room on screen: they are written at most once a second, not once a
   * message (each write is a `storage` event in the person's other tabs).
   */
  private persistReadMarksSoon(): void {
    this.readMarksTimer ??= setTimeout(() => this.persist(), READ_MARKS_WRITE_DELAY_MS);
  }

  /** Writes read marks still waiting for their timer; for when the page goes away. */
  flushStorage(): void {
    if (this.readMarksTimer !== undefined) this.persist();
  }

  private emit(event: RoomsEvent): void {
    for (const listener of this.listeners) listener(event);
  }
}
