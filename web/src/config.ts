import { Limits, TokenTransport } from "../../core/protocol.js";
import type { SiteConfig } from "../../core/site-config.js";

/**
 * What `GET /config.json` tells the page: the shared `SiteConfig` that the stack writes and the sandbox serves. The
 * page still checks it (`parseConfig`): it is data from the network, and an older deployment may leave fields out.
 */
export type AppConfig = SiteConfig;

export class ConfigError extends Error {
  override name = "ConfigError";
}

/**
 * Loads and checks `config.json`, next to the page (relative, so the site also works under a path prefix).
 * `no-store`: it changes on every deploy while the page's hashed assets do not.
 */
export async function loadConfig(url = "config.json", fetchImpl: typeof fetch = fetch): Promise<AppConfig> {
  const response = await fetchImpl(url, { cache: "no-store", credentials: "same-origin" });
  if (!response.ok) throw new ConfigError(`${url} answered ${response.status}`);
  return parseConfig(await response.json());
}

export function parseConfig(value: unknown): AppConfig {
  const config = value as Partial<AppConfig> | null;
  const auth = config?.auth;
  if (typeof config?.webSocketUrl !== "string" || !/^wss?:\/\//.test(config.webSocketUrl)) {
    throw new ConfigError("config.json: webSocketUrl must be a ws:// or wss:// URL");
  }
  if (auth?.mode !== "development" && auth?.mode !== "supertokens") {
    throw new ConfigError('config.json: auth.mode must be "development" or "supertokens"');
  }
  if (typeof auth.apiDomain !== "string" || typeof auth.apiBasePath !== "string") {
    throw new ConfigError("config.json: auth.apiDomain and auth.apiBasePath are required");
  }
  const transport = config.tokenTransport ?? TokenTransport.Query;
  if (transport !== TokenTransport.Query && transport !== TokenTransport.Subprotocol) {
    throw new ConfigError(`config.json: tokenTransport must be "query" or "subprotocol"`);
  }
  return {
    webSocketUrl: config.webSocketUrl,
    tokenTransport: transport,
    auth: { mode: auth.mode, apiDomain: auth.apiDomain, apiBasePath: auth.apiBasePath },
    appName: typeof config.appName === "string" && config.appName !== "" ? config.appName : "Chat",
    // Pacing only: a config without it (an older deployment) gets the protocol's defaults.
    rateLimit: {
      burst: positive(config.rateLimit?.burst) ?? Limits.defaultMessageBurst,
      perSecond: positive(config.rateLimit?.perSecond) ?? Limits.defaultMessagesPerSecond,
    },
  };
}

const positive = (value: unknown) => (typeof value === "number" && value > 0 ? value : undefined);
