import { randomBytes } from "node:crypto";
import type { IncomingMessage } from "node:http";

/** The parts of a WebSocket upgrade request that API Gateway hands to the authorizer and `$connect`. */
export interface UpgradeRequest {
  path: string;
  query: URLSearchParams;
  /** Node's lower-cased headers, for lookups. */
  lookup: Readonly<Record<string, string | string[] | undefined>>;
  /** Headers as the client spelled them, plus the ones API Gateway adds; the last value of a repeated header. */
  headers: Record<string, string>;
  multiValueHeaders: Record<string, string[]>;
  queryStringParameters: Record<string, string>;
  multiValueQueryStringParameters: Record<string, string[]>;
  sourceIp: string;
  /** Not in any API Gateway event: lets a local client find its own connection (its socket's local port). */
  sourcePort?: number;
  userAgent: string | undefined;
  /** The Host the client used; API Gateway's is `{apiId}.execute-api.{region}.amazonaws.com`. */
  domainName: string;
}

export function readUpgradeRequest(req: IncomingMessage): UpgradeRequest {
  const url = new URL(req.url ?? "/", "http://sandbox.invalid");
  const sourceIp = normaliseIp(req.socket.remoteAddress);
  // API Gateway's edge sets these (replacing what the client sent); handlers that log or trust them see them here too.
  const added: Record<string, string> = {
    "X-Forwarded-For": sourceIp,
    "X-Forwarded-Port": String(req.socket.localPort ?? ""),
    "X-Forwarded-Proto": "http",
    "X-Amzn-Trace-Id": `Root=1-${Math.floor(Date.now() / 1000).toString(16)}-${randomBytes(12).toString("hex")}`,
  };
  const replaced = new Set(Object.keys(added).map((name) => name.toLowerCase()));
  const multiValueHeaders: Record<string, string[]> = {};
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i] as string;
    if (!replaced.has(name.toLowerCase())) append(multiValueHeaders, name, req.rawHeaders[i + 1] as string);
  }
  for (const [name, value] of Object.entries(added)) append(multiValueHeaders, name, value);
  const multiValueQueryStringParameters: Record<string, string[]> = {};
  for (const [name, value] of url.searchParams) append(multiValueQueryStringParameters, name, value);
  return {
    path: url.pathname,
    query: url.searchParams,
    lookup: req.headers,
    headers: lastValues(multiValueHeaders),
    multiValueHeaders,
    queryStringParameters: lastValues(multiValueQueryStringParameters),
    multiValueQueryStringParameters,
    sourceIp,
    sourcePort: req.socket.remotePort,
    userAgent: req.headers["user-agent"],
    domainName: req.headers.host ?? "",
  };
}

function append(multi: Record<string, string[]>, name: string, value: string): void {
  const values = multi[name];
  if (values) values.push(value);
  else multi[name] = [value];
}

const lastValues = (multi: Record<string, string[]>): Record<string, string> =>
  Object.fromEntries(Object.entries(multi).map(([name, values]) => [name, values[values.length - 1] ?? ""]));

/** `::ffff:127.0.0.1` → `127.0.0.1`, as API Gateway reports IPv4 clients. */
const normaliseIp = (address: string | undefined): string => address?.replace(/^::ffff:/, "") ?? "";
