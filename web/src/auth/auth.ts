/**
 * How the page signs people in and gets a token for the socket. Two implementations: SuperTokens (EmailPassword) on
 * a real deployment, and the sandbox's password-less development sign-in. The views only see this interface.
 */

export interface User {
  userId: string;
  /** Display name, when the auth method knows one. */
  name?: string;
}

/** One input of the sign-in form; the auth method decides which it needs. */
export interface FormField {
  id: string;
  label: string;
  type: "text" | "email" | "password";
  autocomplete: string;
  maxLength?: number;
}

export interface SignInForm {
  title: string;
  fields: FormField[];
  /** A sign-up mode exists (shown as a toggle). */
  canSignUp: boolean;
  /** Shown above the form, e.g. that development sign-in has no password. */
  notice?: string;
}

export type AuthResult =
  | { ok: true; user: User }
  | {
      ok: false;
      /** For the whole form. */
      message?: string;
      /** Per field, keyed by `FormField.id`. */
      fieldErrors?: Record<string, string>;
    };

export interface FreshTokenOptions {
  /** Refresh even if the token looks fresh: the server just refused it. */
  forceRefresh?: boolean;
}

export interface Auth {
  readonly form: SignInForm;
  /** The signed-in user, or undefined when signed out. */
  currentUser(): Promise<User | undefined>;
  signIn(values: Record<string, string>): Promise<AuthResult>;
  signUp(values: Record<string, string>): Promise<AuthResult>;
  signOut(): Promise<void>;
  /**
   * An access token that is good for at least another minute, refreshing first when needed; undefined when the
   * session is gone (the page then shows sign-in). Rejects only on transient failures (network), which callers retry.
   */
  getFreshToken(options?: FreshTokenOptions): Promise<string | undefined>;
}

/** Thrown for failures that say nothing about the session, such as the auth API being unreachable. */
export class TransientAuthError extends Error {
  override name = "TransientAuthError";
}
