import { type HistoryFrame, Limits, type MessageFrame } from "./protocol.js";

/** Room left in each frame for the envelope, below the 128 KB PostToConnection limit. */
const FRAME_BUDGET_BYTES = Limits.maxPostBytes - 4 * 1024;

/**
 * Splits a page of history into frames that each fit in one PostToConnection: 50 messages of 2,000 four-byte
 * characters would not. Always at least one frame, so an empty room still answers.
 */
export function chunkHistory(room: string, messages: MessageFrame[], hasMore: boolean): HistoryFrame[] {
  const frames: HistoryFrame[] = [];
  let current: MessageFrame[] = [];
  let bytes = 0;
  for (const message of messages) {
    const size = Buffer.byteLength(JSON.stringify(message));
    if (current.length > 0 && bytes + size > FRAME_BUDGET_BYTES) {
      frames.push({ type: "history", room, messages: current, hasMore });
      current = [];
      bytes = 0;
    }
    current.push(message);
    bytes += size + 1;
  }
  frames.push({ type: "history", room, messages: current, hasMore });
  return frames;
}
