// Named imports: the package is CommonJS with `__esModule`, where TypeScript and esbuild disagree about `default`.
import { init as initSuperTokens } from "supertokens-web-js/index.js";
import * as EmailPassword from "supertokens-web-js/recipe/emailpassword/index.js";
import * as Session from "supertokens-web-js/recipe/session/index.js";
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

/** Remembers the email someone signed in with, to label them; SuperTokens' access token carries no name. */
const EMAIL_KEY = "chat.st-email";

/**
 * SuperTokens EmailPassword sign-up/sign-in and its session. This module (and supertokens-web-js with it) is loaded
 * only in SuperTokens mode, by a dynamic import, so development mode does not download it.
 */
export class SuperTokensAuth implements Auth {
  readonly form: SignInForm = {
    title: "Sign in",
    canSignUp: true,
    fields: [
      { id: "email", label: "Email", type: "email", autocomplete: "username" },
      { id: "password", label: "Password", type: "password", autocomplete: "current-password" },
    ],
  };

  constructor(config: AppConfig["auth"], appName: string) {
    initSuperTokens({
      appInfo: { apiDomain: config.apiDomain, apiBasePath: config.apiBasePath, appName },
      recipeList: [Session.init(), EmailPassword.init()],
    });
  }

  async currentUser(): Promise<User | undefined> {
    if (!(await Session.doesSessionExist())) return undefined;
    const userId = await Session.getUserId();
    const remembered = readRemembered();
    return { userId, ...(remembered?.userId === userId ? { name: remembered.email } : {}) };
  }

  signIn(values: Record<string, string>): Promise<AuthResult> {
    return this.submit(values, "signIn");
  }

  signUp(values: Record<string, string>): Promise<AuthResult> {
    return this.submit(values, "signUp");
  }

  async signOut(): Promise<void> {
    // The session first: a storage that refuses to change must not keep it from being revoked.
    await Session.signOut();
    remember(undefined);
  }

  getFreshToken(options: FreshTokenOptions = {}): Promise<string | undefined> {
    return getFreshToken(
      {
        read: () => Session.getAccessToken(),
        refresh: async () => {
          try {
            return await Session.attemptRefreshingSession();
          } catch (err) {
            // The refresh endpoint could not be reached or failed: not a reason to sign the person out.
            throw new TransientAuthError(`session refresh failed: ${String(err)}`);
          }
        },
      },
      options.forceRefresh,
    );
  }

  private async submit(values: Record<string, string>, action: "signIn" | "signUp"): Promise<AuthResult> {
    const email = (values.email ?? "").trim();
    const password = values.password ?? "";
    const fieldErrors: Record<string, string> = {};
    if (email === "") fieldErrors.email = "Enter your email address.";
    if (password === "") fieldErrors.password = "Enter your password.";
    if (Object.keys(fieldErrors).length > 0) return { ok: false, fieldErrors };

    const formFields = [
      { id: "email", value: email },
      { id: "password", value: password },
    ];
    try {
      const response =
        action === "signIn" ? await EmailPassword.signIn({ formFields }) : await EmailPassword.signUp({ formFields });
      switch (response.status) {
        case "OK":
          remember({ userId: response.user.id, email });
          return { ok: true, user: { userId: response.user.id, name: email } };
        case "FIELD_ERROR":
          return { ok: false, fieldErrors: Object.fromEntries(response.formFields.map((f) => [f.id, f.error])) };
        case "WRONG_CREDENTIALS_ERROR":
          return { ok: false, message: "That email and password do not match an account." };
        case "SIGN_IN_NOT_ALLOWED":
        case "SIGN_UP_NOT_ALLOWED":
          return { ok: false, message: response.reason };
      }
    } catch (err) {
      if (isGeneralError(err)) return { ok: false, message: err.message };
      return { ok: false, message: "Could not reach the sign-in service. Check your connection and try again." };
    }
  }
}

/** Keeps (or forgets) the email someone signed in with; a full or forbidden storage only costs the label. */
function remember(who: { userId: string; email: string } | undefined): void {
  try {
    if (who) localStorage.setItem(EMAIL_KEY, JSON.stringify(who));
    else localStorage.removeItem(EMAIL_KEY);
  } catch {
    // The person is still signed in (or out); only their name is not remembered.
  }
}

function readRemembered(): { userId: string; email: string } | undefined {
  try {
    const value = JSON.parse(localStorage.getItem(EMAIL_KEY) ?? "null") as { userId?: unknown; email?: unknown } | null;
    return typeof value?.userId === "string" && typeof value.email === "string"
      ? { userId: value.userId, email: value.email }
      : undefined;
  } catch {
    return undefined;
  }
}

/** STGeneralError (`status: "GENERAL_ERROR"` from the backend) carries a message meant for the user. */
function isGeneralError(err: unknown): err is Error {
  return err instanceof Error && (err as { isSuperTokensGeneralError?: unknown }).isSuperTokensGeneralError === true;
}
