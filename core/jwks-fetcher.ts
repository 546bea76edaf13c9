import { request as httpRequest } from "node:http";
import type { Fetcher } from "aws-jwt-verify/https";
import { SimpleFetcher } from "aws-jwt-verify/https";

/**
 * How long one JWKS fetch may take. aws-jwt-verify retries once at once, so two of these must fit in the
 * authorizer's own timeout (8 s in the stack): the authorizer fails closed, never hangs. Behind CloudFront, a cold
 * JWKS can mean a cold auth Lambda and a round trip to the SuperTokens core, hence not less.
 */
export const JWKS_RESPONSE_TIMEOUT_MS = 3000;

const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]", "::1"]);

export function isLoopbackUrl(url: URL): boolean {
  return LOOPBACK_HOSTS.has(url.hostname) || url.hostname.startsWith("127.");
}

/**
 * The JWKS fetcher: aws-jwt-verify's https fetcher with short timeouts, and, only when asked (the local sandbox),
 * plain http to a loopback address. A remote http JWKS is refused whatever the option says.
 */
export function createJwksFetcher(options: { allowInsecureLoopback?: boolean } = {}): Fetcher {
  // aws-jwt-verify honours only `responseTimeout` (its socket `timeout` has no listener).
  const https = new SimpleFetcher({ defaultRequestOptions: { responseTimeout: JWKS_RESPONSE_TIMEOUT_MS } });
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
    const req = httpRequest(url, { timeout: JWKS_RESPONSE_TIMEOUT_MS }, (res) => {
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
