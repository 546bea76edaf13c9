import { LOBBY, MESSAGE_ID_PATTERN, ROOM_NAME_PATTERN } from "../../../core/protocol.js";
import { compareIds, MAX_ROOMS, sortRoomNames } from "./room-state.js";

/** The rooms someone is in and the one on screen, kept per user so a reload (or the next visit) returns to them. */
export interface RoomList {
  /** The lobby first; at most `MAX_ROOMS`. */
  rooms: string[];
  selected: string;
  /** Per room, the newest message the person has had on screen (`RoomState.readUpTo`). */
  readUpTo: Record<string, string>;
}

type Storage = Pick<globalThis.Storage, "getItem" | "setItem">;

/**
 * Reads the list. Anything unexpected (no storage, private mode, a hand-edited value, names the server would refuse)
 * is dropped rather than trusted: the lobby alone is always a valid start.
 */
export function loadRoomList(storage: Storage | undefined, key: string): RoomList {
  let raw: string | null = null;
  try {
    raw = storage?.getItem(key) ?? null;
  } catch {
    // Reading throws under some privacy settings: the lobby alone.
  }
  return parseRoomList(raw);
}

/** `loadRoomList` on the stored text, so `updateRoomList` reads storage once. */
function parseRoomList(raw: string | null): RoomList {
  let value: unknown;
  try {
    value = JSON.parse(raw ?? "null");
  } catch {
    value = null;
  }
  const stored = (typeof value === "object" && value !== null ? value : {}) as Partial<Record<keyof RoomList, unknown>>;
  const names = new Set([LOBBY]);
  if (Array.isArray(stored.rooms)) {
    for (const name of stored.rooms) {
      if (names.size >= MAX_ROOMS) break;
      if (typeof name === "string" && ROOM_NAME_PATTERN.test(name)) names.add(name);
    }
  }
  const selected = typeof stored.selected === "string" && names.has(stored.selected) ? stored.selected : LOBBY;
  const readUpTo: Record<string, string> = {};
  if (typeof stored.readUpTo === "object" && stored.readUpTo !== null) {
    for (const [room, id] of Object.entries(stored.readUpTo)) {
      if (names.has(room) && typeof id === "string" && MESSAGE_ID_PATTERN.test(id)) readUpTo[room] = id;
    }
  }
  return { rooms: sortRoomNames(names), selected, readUpTo };
}

/** What one tab changes in the list its person's tabs share. */
export interface RoomListChange {
  joined?: string;
  left?: string;
  /** The room on screen in this tab, to return to on the next visit. @default - the stored one stays */
  selected?: string;
  /** This tab's read marks; a stored one only moves forward. */
  readUpTo?: Readonly<Record<string, string | undefined>>;
}

/**
 * Applies one tab's change to the stored list. A room joined or left is added or removed, rather than the tab's
 * whole list written over one another tab may just have changed; read marks only move forward. Writes only when
 * something changed, since every write is a `storage` event in the other tabs. A full or forbidden storage only
 * costs remembering.
 */
export function updateRoomList(storage: Storage | undefined, key: string, change: RoomListChange): void {
  if (!storage) return;
  let raw: string | null;
  try {
    raw = storage.getItem(key);
  } catch {
    return; // unreadable storage: nothing to merge with, and no write
  }
  const stored = parseRoomList(raw);
  const names = new Set(stored.rooms);
  if (change.joined && names.size < MAX_ROOMS) names.add(change.joined);
  if (change.left !== LOBBY && change.left !== undefined) names.delete(change.left);
  const rooms = sortRoomNames(names);
  const readUpTo: Record<string, string> = {};
  for (const name of rooms) {
    const [mine, theirs] = [change.readUpTo?.[name], stored.readUpTo[name]];
    const later = mine === undefined || (theirs !== undefined && compareIds(theirs, mine) > 0) ? theirs : mine;
    if (later !== undefined) readUpTo[name] = later;
  }
  const selected = [change.selected, stored.selected].find((name) => name !== undefined && names.has(name)) ?? LOBBY;
  const next = JSON.stringify({ rooms, selected, readUpTo } satisfies RoomList);
  try {
    if (raw !== next) storage.setItem(key, next);
  } catch {
    // Quota exceeded or storage disabled: the rooms still work for this visit.
  }
}

/** `localStorage`, or undefined where reading it throws (some privacy settings do). */
export function browserStorage(): Storage | undefined {
  try {
    return globalThis.localStorage ?? undefined;
  } catch {
    return undefined;
  }
}
