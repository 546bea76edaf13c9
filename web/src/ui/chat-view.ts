import { ErrorCode, type ServerFrame } from "../../../core/protocol.js";
import type { ConnectionState } from "../chat-socket.js";
import { Composer } from "./composer.js";
import { el } from "./dom.js";
import { MessageList } from "./message-list.js";

const DISABLED_REASON: Record<Exclude<ConnectionState["status"], "live">, string> = {
  "signed-out": "Signed out",
  connecting: "Connecting…",
  reconnecting: "Reconnecting… your text will wait here",
};

/** The conversation and the composer; fed frames and connection states by main.ts. */
export class ChatView {
  readonly element: HTMLElement;
  private readonly messages: MessageList;
  private readonly composer: Composer;

  constructor(ownUserId: string, send: (text: string) => boolean) {
    this.messages = new MessageList(ownUserId);
    this.composer = new Composer(send);
    this.element = el(
      "section",
      { class: "chat-view", "aria-label": "Chat" },
      this.messages.element,
      this.composer.element,
    );
  }

  handleFrame(frame: ServerFrame): void {
    if (frame.type === "message") this.messages.add(frame);
    else if (frame.type === "error") this.composer.showError(errorText(frame.code, frame.message));
  }

  handleState(state: ConnectionState): void {
    this.composer.setEnabled(state.status === "live", state.status === "live" ? "" : DISABLED_REASON[state.status]);
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
      return "";
    default:
      return message;
  }
}
