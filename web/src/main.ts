/**
 * The chat page. No framework: DOM code for one screen with two states (signed out, chatting), where a virtual DOM
 * would add weight and indirection without removing any real complexity. What it does need (a reconnecting socket,
 * token freshness, the rooms' state and catch-up, text-only rendering) lives in small modules tested on their own.
 */
import "./styles.css";
import { type Auth, createAuth, type User } from "./auth/index.js";
import { ChatSocket, transportFor } from "./chat-socket.js";
import { type AppConfig, loadConfig } from "./config.js";
import { onPageWake } from "./page-wake.js";
import { displayName } from "./rooms/room-state.js";
import { RoomsController } from "./rooms/rooms-controller.js";
import { browserStorage } from "./rooms/stored-rooms.js";
import { ChatView } from "./ui/chat-view.js";
import { ConnectionStatus } from "./ui/connection-status.js";
import { el } from "./ui/dom.js";
import { signInView } from "./ui/sign-in-view.js";

class App {
  private readonly main = el("main", { class: "app-main" });
  private readonly status = new ConnectionStatus(() => this.socket?.retryNow());
  private readonly who = el("span", { class: "who", "data-testid": "who" });
  private readonly signOutButton = el(
    "button",
    { type: "button", class: "secondary", hidden: true, "data-testid": "sign-out" },
    "Sign out",
  );
  /** The connection while signed in; undefined on the sign-in screen. */
  private socket: ChatSocket | undefined;
  private disposeChat: (() => void) | undefined;

  constructor(
    root: HTMLElement,
    private readonly config: AppConfig,
    private readonly auth: Auth,
  ) {
    document.title = config.appName;
    root.replaceChildren(
      el(
        "header",
        { class: "app-header" },
        el("h1", { class: "app-title" }, config.appName),
        this.status.element,
        el("div", { class: "account" }, this.who, this.signOutButton),
      ),
      this.main,
    );
    this.signOutButton.addEventListener("click", () => void this.signOut());

    // Leaving into the back/forward cache closes the socket (a cached page must not hold one open); coming back
    // opens a new one with a fresh token rather than resuming with one that may have expired meanwhile.
    addEventListener("pagehide", (event) => {
      if (event.persisted) this.socket?.stop();
    });
    addEventListener("pageshow", (event) => {
      if (event.persisted) this.socket?.start();
    });
  }

  async start(): Promise<void> {
    const user = await this.auth.currentUser().catch(() => undefined);
    if (user) this.showChat(user);
    else this.showSignIn();
  }

  private showSignIn(notice?: string): void {
    this.endChat();
    this.who.textContent = "";
    this.signOutButton.hidden = true;
    this.main.replaceChildren(signInView(this.auth, { notice, onSignedIn: (user) => this.showChat(user) }));
  }

  private showChat(user: User): void {
    this.endChat();
    const socket = new ChatSocket({
      url: this.config.webSocketUrl,
      openSocket: transportFor(this.config.tokenTransport),
      getToken: ({ forceRefresh }) => this.auth.getFreshToken({ forceRefresh }),
      userId: user.userId,
    });
    const rooms = new RoomsController({
      ownUserId: user.userId,
      send: (frame) => socket.send(frame),
      storage: browserStorage(),
      queue: this.config.rateLimit,
      isPageVisible: () => document.visibilityState === "visible",
    });
    const view = new ChatView(rooms, user.userId);
    const offState = socket.onState((state) => {
      this.status.render(state);
      // The controller first: it decides which rooms can be written to, which the view then shows.
      rooms.handleState(state);
      view.handleState(state);
      // The session ended under us (expired, revoked): back to the form, with a word about why.
      if (state.status === "signed-out" && state.reason === "no-session") {
        this.showSignIn("Your session has ended. Please sign in again.");
      }
      // Another tab signed in as someone else, and tabs share one session: this page's user is no longer signed in.
      if (state.status === "signed-out" && state.reason === "other-user") {
        this.showSignIn(
          "Someone signed in to a different account in another tab. Reload the page to chat as that account, or sign in again here.",
        );
      }
    });
    const offFrame = socket.onFrame((frame) => rooms.handleFrame(frame));
    // The person's other tabs: rooms joined or left there, and what was read there, follow here.
    const onStorage = (event: StorageEvent) => rooms.syncFromStorage(event.key);
    addEventListener("storage", onStorage);
    const onHide = () => rooms.flushStorage();
    addEventListener("pagehide", onHide);
    // Back online or shown again: a live socket may be half-open (sleep, a new network), so it is checked at once; a
    // reconnect waiting out its backoff goes now. What came in the room on screen while hidden is read now.
    const offWake = onPageWake(window, document, (cause) => {
      if (cause === "online") socket.retryNow();
      socket.probe({ unlessHeardWithinMs: 30_000 });
      if (cause === "visible") rooms.pageShown();
    });
    // Unread messages elsewhere show in the tab's title, where they are seen from other tabs.
    const offRooms = rooms.onEvent((event) => {
      if (event.type !== "rooms") return;
      const unread = rooms.totalUnread;
      document.title = unread > 0 ? `(${unread}) ${this.config.appName}` : this.config.appName;
    });
    this.socket = socket;
    this.disposeChat = () => {
      offState();
      offFrame();
      offRooms();
      offWake();
      removeEventListener("storage", onStorage);
      removeEventListener("pagehide", onHide);
      socket.stop();
      view.dispose();
      rooms.dispose();
      document.title = this.config.appName;
    };

    this.who.textContent = displayName(user);
    this.who.title = user.userId;
    this.signOutButton.hidden = false;
    this.main.replaceChildren(view.element);
    socket.start();
  }

  private async signOut(): Promise<void> {
    // Close the socket before the session goes, so nothing more is sent on a connection whose user has left.
    this.endChat();
    this.signOutButton.disabled = true;
    try {
      await this.auth.signOut();
    } catch {
      // Signed out locally all the same; a server-side session left behind expires on its own.
    } finally {
      this.signOutButton.disabled = false;
    }
    this.showSignIn("You have signed out.");
  }

  private endChat(): void {
    this.disposeChat?.();
    this.disposeChat = undefined;
    this.socket = undefined;
    this.status.render({ status: "signed-out", reason: "stopped" });
  }
}

async function boot(root: HTMLElement): Promise<void> {
  let app: App;
  try {
    const config = await loadConfig();
    app = new App(root, config, await createAuth(config));
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    root.replaceChildren(el("p", { class: "card fatal", role: "alert" }, `The chat could not start: ${reason}.`));
    return;
  }
  await app.start();
}

const root = document.getElementById("app");
if (root) void boot(root);
