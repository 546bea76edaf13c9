import type { WebAuthConfig } from "./auth-backend.js";

/**
 * `GET /config.json`: how the page finds the socket and the sign-in. The stack writes the same shape next to the
 * deployed page, so the page has one code path.
 */
export interface WebConfig {
  /** `ws://127.0.0.1:<gateway port>/<stage>` locally, the stage URL on AWS. */
  webSocketUrl: string;
  auth: WebAuthConfig;
  appName: string;
}
