import { request as httpRequest } from "node:http";
import type { Fetcher } from "aws-jwt-verify/https";
import { SimpleFetcher } from "aws-jwt-verify/https";

/** JWKS fetch time limits: the authorizer must fail closed well inside its own timeout, never hang. */
export const JwksFetchTimeouts = { socketIdleMs: 1000, responseMs: 1500 } as const;

const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]", "::1"]);

export function isLoopbackUrl(url: URL): boolean {
  return LOOPBACK_HOSTS.has(url.hostname) || url.hostname.startsWith("127.");
}

/**
 * The JWKS fetcher: aws-jwt-verify's https fetcher with short timeouts, and, only when asked (the local sandbox),
 * plain http to a loopback address. A remote http JWKS is refused whatever the option says.
 */
export function createJwksFetcher(options: { allowInsecureLoopback?: boolean } = {}): Fetcher {
  const requestOptions = { timeout: JwksFetchTimeouts.socketIdleMs, responseTimeout: JwksFetchTimeouts.responseMs };
  const https = new SimpleFetcher({ defaultRequestOptions: requestOptions });
  if (!options.allowInsecureLoopback) return https;
  return {
    fetch: (uri, opts, data) => {
      const url = new URL(uri);
      return url.protocol === "http:" && isLoopbackUrl(url) ? fetchLoopback(url) : https.fetch(uri, opts, data);
    },
  };
}

function fetchLoopback(url: URL): Promise<ArrayBuffer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { timeout: JwksFetchTimeouts.responseMs }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        reject(new Error(`JWKS ${url.href}: status ${res.statusCode}, expected 200`));
        return;
      }
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => {
        const body = Buffer.concat(chunks);
        resolve(body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength) as ArrayBuffer);
      });
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`JWKS ${url.href}: timed out`)));
    req.on("error", reject);
    req.end();
  });
}
