import type { AppConfig } from "../config.js";
import type { Auth } from "./auth.js";
import { DevelopmentAuth } from "./development.js";

/** The auth method config.json names. SuperTokens is a dynamic import: a separate chunk only its mode downloads. */
export async function createAuth(config: AppConfig): Promise<Auth> {
  if (config.auth.mode === "development") return new DevelopmentAuth(config.auth);
  const { SuperTokensAuth } = await import("./supertokens.js");
  return new SuperTokensAuth(config.auth, config.appName);
}

export type { Auth, AuthResult, FormField, SignInForm, User } from "./auth.js";
