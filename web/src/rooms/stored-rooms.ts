import { LOBBY, MESSAGE_ID_PATTERN, ROOM_NAME_PATTERN } from "../../../core/protocol.js";
import { MAX_ROOMS, sortRoomNames } from "./room-state.js";

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
  let value: unknown;
  try {
    value = JSON.parse(storage?.getItem(key) ?? "null");
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

/** Writes the list; a full or forbidden storage only costs remembering it. */
export function saveRoomList(storage: Storage | undefined, key: string, list: RoomList): void {
  try {
    storage?.setItem(key, JSON.stringify(list));
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
