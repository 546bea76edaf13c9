import {
  type ChatUser,
  Limits,
  LOBBY,
  type MessageFrame,
  messageId,
  ROOM_NAME_PATTERN,
} from "../../../core/protocol.js";

/**
 * What the page knows of one room, and the pure functions that change it. No DOM, no timers: the controller
 * (`rooms-controller.ts`) feeds frames through these and the views render the result.
 *
 * Catching up rests on one number, the **frontier**: every message id up to it is accounted for, either held in
 * `messages` or known not to exist (ids are a dense per-room sequence, but a message whose save failed leaves a hole
 * for ever). Above the frontier, a missing id is a gap. A reconnect asks for `after = frontier`, a gap is filled
 * with `history {after: frontier}`, and an answer to `after = C` that ends at `E` moves the frontier to `E`, holes
 * and all: the server has shown everything it has in between.
 */
export interface RoomState {
  readonly name: string;
  /** Sorted by id, each id once. */
  readonly messages: readonly MessageFrame[];
  /** Everything up to this id is accounted for. Undefined until the room's first history arrives. */
  readonly frontier: string | undefined;
  /** The first history has arrived (a room can be loaded and still empty). */
  readonly loaded: boolean;
  /** The server has messages older than `messages[0]`. */
  readonly hasMoreOlder: boolean;
  /** Messages from others that arrived while the room was not selected. */
  readonly unread: number;
  /**
   * The newest message the person has had on screen, in any of their tabs, remembered across visits: only messages
   * after it count as unread. Undefined for a room never seen.
   */
  readonly readUpTo: string | undefined;
  /** Who is online here, by user id. */
  readonly online: ReadonlyMap<string, ChatUser>;
  /**
   * The presence versions `online` rests on: the last `presence` list's, and each later `joined`/`left`'s, by user.
   * Presence news sent by different server instances can cross on the way; news no newer than what the page has
   * for the user is stale.
   */
  readonly presenceVersions: PresenceVersions;
}

export interface PresenceVersions {
  readonly list: number;
  readonly users: ReadonlyMap<string, number>;
}

/**
 * How messages reached the page, which decides what they mean:
 * - `live`: a `message` frame, new;
 * - `newer`: history after a cursor (a reconnect catching up, a gap filled), missed and so new to the person;
 * - `initial`: the most recent messages, on a first join;
 * - `older`: history before the oldest message, scrolling back.
 */
export type Arrival = "live" | "newer" | "initial" | "older";

export function emptyRoom(name: string, readUpTo?: string): RoomState {
  return {
    name,
    messages: [],
    frontier: undefined,
    loaded: false,
    hasMoreOlder: false,
    unread: 0,
    readUpTo,
    online: new Map(),
    presenceVersions: { list: 0, users: new Map() },
  };
}

/** Ids are zero-padded to one width, so text order is number order. */
export const compareIds = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
export const nextId = (id: string): string => messageId(Number(id) + 1);
const previousId = (id: string): string => messageId(Math.max(0, Number(id) - 1));
/** Below every message id: the frontier of a room known to hold nothing. */
const ZERO_ID = messageId(0);

export const lastId = (room: RoomState): string | undefined => room.messages.at(-1)?.id;
export const oldestId = (room: RoomState): string | undefined => room.messages[0]?.id;

/** There is a message above the frontier that the page holds, with something missing before it. */
export const hasGap = (room: RoomState): boolean => {
  const last = lastId(room);
  return room.frontier !== undefined && last !== undefined && compareIds(last, room.frontier) > 0;
};

export interface Merged {
  room: RoomState;
  /** The messages that were new to the room, in id order. */
  added: MessageFrame[];
}

/**
 * Adds messages to a room: kept sorted by id, each id once (a replay, a history page overlapping live messages, or
 * the same page twice all merge to the same list). Messages from others count as unread when they are new to the
 * person (`live`, `newer`, or `initial`) and after the room's `readUpTo`, and the room is not the one on screen; in
 * the room on screen they are read as they come.
 */
export function mergeMessages(
  room: RoomState,
  incoming: readonly MessageFrame[],
  options: { arrival: Arrival; ownUserId: string; selected: boolean },
): Merged {
  const known = new Set(room.messages.map((message) => message.id));
  const added: MessageFrame[] = [];
  for (const message of incoming) {
    if (message.room !== room.name || known.has(message.id)) continue;
    known.add(message.id);
    added.push(message);
  }
  if (added.length === 0) return { room, added };
  added.sort((a, b) => compareIds(a.id, b.id));

  const existing = room.messages;
  const last = existing.at(-1);
  const first = added[0];
  let messages: MessageFrame[];
  if (!last || (first && compareIds(first.id, last.id) > 0)) {
    messages = [...existing, ...added]; // the usual case: everything is newer
  } else {
    messages = [];
    let i = 0;
    let j = 0;
    while (i < existing.length || j < added.length) {
      const a = existing[i];
      const b = added[j];
      if (b === undefined || (a !== undefined && compareIds(a.id, b.id) < 0)) {
        if (a) messages.push(a);
        i++;
      } else {
        messages.push(b);
        j++;
      }
    }
  }

  // Anything up to the read mark has been seen, here or in another tab; on a first join only what is after it is new.
  const afterMark = (message: MessageFrame) =>
    room.readUpTo === undefined ? options.arrival !== "initial" : compareIds(message.id, room.readUpTo) > 0;
  const isNew = (message: MessageFrame) => options.arrival !== "older" && afterMark(message);
  const unread = options.selected
    ? room.unread
    : room.unread + added.filter((message) => message.sender.userId !== options.ownUserId && isNew(message)).length;
  const next = { ...room, messages, unread };
  return { room: advanceFrontier(options.selected ? markRead(next) : next), added };
}

/**
 * Moves the frontier over the messages held right after it. A room that loaded empty has no frontier until its first
 * message, and then starts from the zero id: a message before it may have been sent while its post to this page
 * failed (429s, a 5xx), so anything missing before it is a gap like any other. In a room whose history has expired
 * (ids go on, say from 37), that costs one fill, whose answer covers everything up to what it holds.
 */
function advanceFrontier(room: RoomState): RoomState {
  let frontier = room.frontier;
  if (frontier === undefined) {
    if (!room.loaded || room.messages.length === 0) return room;
    frontier = ZERO_ID;
  }
  let index = room.messages.findIndex((message) => compareIds(message.id, frontier as string) > 0);
  if (index < 0) return frontier === room.frontier ? room : { ...room, frontier };
  while (index < room.messages.length && room.messages[index]?.id === nextId(frontier)) {
    frontier = room.messages[index]?.id as string;
    index++;
  }
  return frontier === room.frontier ? room : { ...room, frontier };
}

/**
 * Marks every id in `(from, to]` as accounted for: the server answered a request for exactly that range. Counts only
 * when the range touches the frontier; an island further up says nothing about what lies between.
 */
function coverRange(room: RoomState, from: string | undefined, to: string): RoomState {
  const frontier = room.frontier;
  if (frontier === undefined) {
    // The first history of the room: its range is the start of what the page knows.
    return advanceFrontier({ ...room, frontier: to, loaded: true });
  }
  if (from === undefined || compareIds(from, frontier) > 0 || compareIds(to, frontier) <= 0) {
    return advanceFrontier(room);
  }
  return advanceFrontier({ ...room, frontier: to });
}

/** What a `history` frame tells about the room, beyond its messages. */
export type HistoryAnswer =
  /** The most recent messages, answering a `join` without `after`. */
  | { kind: "initial" }
  /** Messages before a cursor, scrolling back. */
  | { kind: "older" }
  /** Messages after `after`: catching up or filling a gap. */
  | { kind: "newer"; after: string }
  /** A frame the page cannot tie to a request (a late part of a long answer): its messages, and nothing more. */
  | { kind: "unattributed" };

interface HistoryResult extends Merged {
  /** The server has more after this page: ask again with `after` = the frontier. */
  continueAfter: boolean;
}

/**
 * Applies one `history` frame. A long answer comes as several frames, each with the answer's `hasMore`; every frame
 * is one contiguous stretch of the room's history, so the ids between its first and last message that it does not
 * hold do not exist.
 */
export function applyHistory(
  room: RoomState,
  frame: { messages: readonly MessageFrame[]; hasMore: boolean },
  answer: HistoryAnswer,
  options: { ownUserId: string; selected: boolean },
): HistoryResult {
  const arrival: Arrival = answer.kind === "unattributed" ? "newer" : answer.kind;
  const merged = mergeMessages(room, frame.messages, { ...options, arrival });
  let next = merged.room;
  const first = frame.messages[0]?.id;
  const last = frame.messages.at(-1)?.id;
  let continueAfter = false;

  switch (answer.kind) {
    case "initial":
      next = { ...next, hasMoreOlder: frame.hasMore };
      next = last ? coverRange(next, undefined, last) : advanceFrontier({ ...next, loaded: true });
      break;
    case "older":
      // An empty page cannot be followed further back: stop, whatever `hasMore` says.
      next = { ...next, hasMoreOlder: frame.hasMore && first !== undefined, loaded: true };
      break;
    case "newer":
      if (last) {
        next = coverRange(next, answer.after, last);
        continueAfter = frame.hasMore;
      } else {
        // Nothing after the cursor: whatever the page holds above it came live, complete. (An empty page that says
        // `hasMore` gives no cursor to go on with; following it would ask the same question for ever.)
        const held = lastId(next);
        next = held ? coverRange(next, answer.after, held) : next;
      }
      next = next.loaded ? next : { ...next, loaded: true };
      break;
    case "unattributed":
      if (first && last) next = coverRange(next, previousId(first), last);
      break;
  }
  return { room: next, added: merged.added, continueAfter };
}

/**
 * A `presence` list (a join's answer). News that came before it yet is newer than it stands; an older list than the
 * one shown changes nothing. `version` is missing from a server that predates it: its frames apply as they come.
 */
export function applyPresence(room: RoomState, users: readonly ChatUser[], version?: number): RoomState {
  const { list, users: byUser } = room.presenceVersions;
  if (version !== undefined && version < list) return room;
  const online = new Map(users.map((user) => [user.userId, user]));
  const newer = new Map<string, number>();
  for (const [userId, seen] of byUser) {
    if (version === undefined || seen <= version) continue;
    newer.set(userId, seen);
    const user = room.online.get(userId);
    if (user) online.set(userId, user);
    else online.delete(userId);
  }
  return { ...room, online, presenceVersions: { list: version ?? list, users: newer } };
}

/** A `joined`: idempotent, and a newer name replaces an older one. */
export function applyJoined(room: RoomState, user: ChatUser, version?: number): RoomState {
  return applyPresenceChange(room, user, version, true);
}

export function applyLeft(room: RoomState, user: ChatUser, version?: number): RoomState {
  return applyPresenceChange(room, user, version, false);
}

function applyPresenceChange(room: RoomState, user: ChatUser, version: number | undefined, online: boolean) {
  const { list, users } = room.presenceVersions;
  const { userId } = user;
  if (version !== undefined && version <= Math.max(list, users.get(userId) ?? 0)) return room; // stale news
  const presenceVersions =
    version === undefined ? room.presenceVersions : { list, users: new Map(users).set(userId, version) };
  const current = room.online.get(userId);
  const unchanged = online ? current !== undefined && current.name === user.name : current === undefined;
  if (unchanged) return presenceVersions === room.presenceVersions ? room : { ...room, presenceVersions };
  const next = new Map(room.online);
  if (online) next.set(userId, user);
  else next.delete(userId);
  return { ...room, online: next, presenceVersions };
}

/** Everything held is read: no unread count, and `readUpTo` at the newest message (never moved back). */
export function markRead(room: RoomState): RoomState {
  const newest = lastId(room);
  const readUpTo =
    newest !== undefined && (room.readUpTo === undefined || compareIds(newest, room.readUpTo) > 0)
      ? newest
      : room.readUpTo;
  return room.unread === 0 && readUpTo === room.readUpTo ? room : { ...room, unread: 0, readUpTo };
}

/**
 * Moves the read mark up to `id` (read in another tab): the unread count keeps only others' messages after it.
 * Never moves the mark back.
 */
export function markReadUpTo(room: RoomState, id: string, ownUserId: string): RoomState {
  if (room.readUpTo !== undefined && compareIds(id, room.readUpTo) <= 0) return room;
  const after = room.messages.filter(
    (message) => message.sender.userId !== ownUserId && compareIds(message.id, id) > 0,
  );
  return { ...room, readUpTo: id, unread: Math.min(room.unread, after.length) };
}

/**
 * Drops the oldest messages past `max`, so a tab left open for days stays light; they can be fetched again by
 * scrolling back. The frontier sits near the newest messages and is not affected.
 */
export function trimOldest(room: RoomState, max: number): { room: RoomState; removed: MessageFrame[] } {
  const excess = room.messages.length - max;
  if (excess <= 0) return { room, removed: [] };
  return {
    room: { ...room, messages: room.messages.slice(excess), hasMoreOlder: true },
    removed: room.messages.slice(0, excess),
  };
}

/** Online users for display: the person first, then by name. */
export function onlineList(room: RoomState, ownUserId: string): ChatUser[] {
  return [...room.online.values()].sort((a, b) => {
    if (a.userId === ownUserId) return -1;
    if (b.userId === ownUserId) return 1;
    return displayName(a).localeCompare(displayName(b)) || compareIds(a.userId, b.userId);
  });
}

export const displayName = (user: ChatUser): string => user.name ?? user.userId;

/** The lobby first, then the others alphabetically. */
export function sortRoomNames(names: Iterable<string>): string[] {
  return [...names].sort((a, b) => (a === LOBBY ? -1 : b === LOBBY ? 1 : compareIds(a, b)));
}

/**
 * Checks what someone typed as a room name. Forgiving where the intent is clear (surrounding spaces, a leading `#`,
 * capitals), strict otherwise: the rules are the server's (`ROOM_NAME_PATTERN`).
 */
export function parseRoomName(input: string): { ok: true; name: string } | { ok: false; problem: string } {
  const name = input.trim().replace(/^#/, "").toLowerCase();
  if (name === "") return { ok: false, problem: "Type a room name." };
  if (ROOM_NAME_PATTERN.test(name)) return { ok: true, name };
  if (name.length > 32) return { ok: false, problem: "A room name is at most 32 characters." };
  return {
    ok: false,
    problem: 'Room names use a–z, 0–9, "-" and "_", and start with a letter or a digit.',
  };
}

/** Rooms a connection may be in, the lobby included. */
export const MAX_ROOMS = Limits.maxRoomsPerConnection;
