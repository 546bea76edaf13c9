import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";
import { HttpError } from "./errors.js";

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: OutgoingHttpHeaders = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "Content-Type": "application/json; charset=utf-8",
    "Content-Length": Buffer.byteLength(text),
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    ...headers,
  });
  res.end(text);
}

/** Answers with `{error, message}`; an HttpError keeps its status and code, anything else is a 500. */
export function sendError(res: ServerResponse, err: unknown): void {
  if (res.headersSent) return void res.destroy();
  const error = err instanceof HttpError ? err : new HttpError(500, "internal_error", "Something went wrong.");
  sendJson(res, error.status, { error: error.code, message: error.message });
}

/** The request body. 413 past `limitBytes` (read to the end, so the client gets the answer). */
export async function readBody(req: IncomingMessage, limitBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size <= limitBytes) chunks.push(chunk as Buffer);
  }
  if (size > limitBytes) throw new HttpError(413, "too_large", `The body is over ${limitBytes} bytes.`);
  return Buffer.concat(chunks);
}

/** The request body as JSON. 413 past `limitBytes`, 400 when it is not JSON. */
export async function readJson(req: IncomingMessage, limitBytes: number): Promise<unknown> {
  const body = await readBody(req, limitBytes);
  try {
    return JSON.parse(body.toString("utf8"));
  } catch {
    throw new HttpError(400, "invalid_json", "The body is not valid JSON.");
  }
}

export function methodNotAllowed(res: ServerResponse, allowed: readonly string[]): void {
  sendJson(
    res,
    405,
    { error: "method_not_allowed", message: `Use ${allowed.join(" or ")}.` },
    { Allow: allowed.join(", ") },
  );
}
