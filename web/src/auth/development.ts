import type { AppConfig } from "../config.js";
import {
  type Auth,
  type AuthResult,
  type FreshTokenOptions,
  type SignInForm,
  TransientAuthError,
  type User,
} from "./auth.js";
import { getFreshToken } from "./fresh-token.js";

interface DevSession {
  accessToken: string;
  user: User;
}

type Exchange = { ok: true; session: DevSession } | { ok: false; status: number; message: string };

const STORAGE_KEY = "chat.dev-session";

/**
 * The sandbox's development sign-in: a name, no password, for local use only (the deployed stack has no such
 * endpoint). Kept in sessionStorage, so each tab can be a different user and a reload keeps you signed in.
 */
export class DevelopmentAuth implements Auth {
  readonly form: SignInForm = {
    title: "Development sign-in",
    notice: "Local sandbox only: pick any name, no password. Real deployments sign in with SuperTokens.",
    canSignUp: false,
    // 32: the sandbox's limit (sandbox/dev-auth.ts), which checks it too; the field just stops people typing past it.
    fields: [{ id: "name", label: "Your name", type: "text", autocomplete: "nickname", maxLength: 32 }],
  };
  private readonly endpoint: string;

  constructor(
    config: AppConfig["auth"],
    private readonly storage: Storage = sessionStorage,
    private readonly fetchImpl: typeof fetch = (...args) => fetch(...args),
  ) {
    this.endpoint = `${config.apiDomain.replace(/\/$/, "")}${config.apiBasePath}/dev/signin`;
  }

  async currentUser(): Promise<User | undefined> {
    return this.load()?.user;
  }

  async signIn(values: Record<string, string>): Promise<AuthResult> {
    const name = (values.name ?? "").trim();
    if (name === "") return { ok: false, fieldErrors: { name: "Enter a name." } };
    let result: Exchange;
    try {
      result = await this.exchange(name);
    } catch {
      return { ok: false, message: "Could not reach the sandbox. Is it still running?" };
    }
    if (!result.ok) {
      return result.status === 400
        ? { ok: false, fieldErrors: { name: result.message } }
        : { ok: false, message: result.message };
    }
    return { ok: true, user: result.session.user };
  }

  async signUp(values: Record<string, string>): Promise<AuthResult> {
    return this.signIn(values); // a name is all there is: signing in is signing up
  }

  async signOut(): Promise<void> {
    this.storage.removeItem(STORAGE_KEY);
  }

  getFreshToken(options: FreshTokenOptions = {}): Promise<string | undefined> {
    return getFreshToken(
      {
        read: async () => this.load()?.accessToken,
        // Development tokens are renewed by signing in again under the same name.
        refresh: async () => {
          const name = this.load()?.user.name;
          if (!name) return false;
          let result: Exchange;
          try {
            result = await this.exchange(name);
          } catch (err) {
            throw new TransientAuthError(`development sign-in unreachable: ${String(err)}`);
          }
          if (result.ok) return true;
          if (result.status >= 500) throw new TransientAuthError(`development sign-in answered ${result.status}`);
          await this.signOut();
          return false;
        },
      },
      options.forceRefresh,
    );
  }

  /** POSTs the name; stores the session on success. Rejects only when the sandbox cannot be reached. */
  private async exchange(name: string): Promise<Exchange> {
    const response = await this.fetchImpl(this.endpoint, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name }),
    });
    const body = (await response.json().catch(() => undefined)) as
      | (Partial<DevSession> & { message?: unknown })
      | undefined;
    if (!response.ok || typeof body?.accessToken !== "string" || typeof body.user?.userId !== "string") {
      const message = typeof body?.message === "string" ? body.message : `Sign-in failed (HTTP ${response.status}).`;
      return { ok: false, status: response.ok ? 502 : response.status, message };
    }
    const session: DevSession = {
      accessToken: body.accessToken,
      user: { userId: body.user.userId, ...(body.user.name ? { name: String(body.user.name) } : {}) },
    };
    this.storage.setItem(STORAGE_KEY, JSON.stringify(session));
    return { ok: true, session };
  }

  private load(): DevSession | undefined {
    try {
      const session = JSON.parse(this.storage.getItem(STORAGE_KEY) ?? "null") as DevSession | null;
      return session?.accessToken && session.user?.userId ? session : undefined;
    } catch {
      return undefined;
    }
  }
}
