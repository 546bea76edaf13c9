import { isUtf8 } from "node:buffer";
import type { IncomingMessage, RequestListener, ServerResponse } from "node:http";
import { setTimeout as delay } from "node:timers/promises";
import type { ConnectionRegistry } from "./connection-registry.js";
import { gatewayId } from "./ids.js";
import type { FaultStatus, ManagementFaults, ManagementMethod } from "./management-faults.js";

export interface ManagementApiOptions {
  stage: string;
  registry: ConnectionRegistry;
  faults: ManagementFaults;
  /** `PostToConnection` data limit (131,072 bytes on AWS). */
  maxPostBytes: number;
  /** Closes a socket for `DeleteConnection`; false when it is not open. */
  close: (connectionId: string) => boolean;
}

/** API Gateway's error types, which the SDK reads from `x-amzn-errortype` to pick the exception class. */
const ERROR_TYPES: Record<FaultStatus, { type: string; message: string }> = {
  403: { type: "ForbiddenException", message: "Forbidden" },
  410: { type: "GoneException", message: "The connection is gone or never existed" },
  413: { type: "PayloadTooLargeException", message: "Message too long" },
  429: { type: "LimitExceededException", message: "Rate exceeded" },
  500: { type: "InternalServerErrorException", message: "Internal server error" },
  503: { type: "ServiceUnavailableException", message: "Service unavailable" },
};

/**
 * The `@connections` management API at `/{stage}/@connections/{connectionId}`, so an unmodified
 * `ApiGatewayManagementApiClient` whose endpoint is the stage URL works against it. No SigV4 check: any signature
 * (or none) is accepted. Anything but the three routes is 403 `ForbiddenException`, as a wrong stage is on AWS.
 */
export function createManagementApi(options: ManagementApiOptions): RequestListener {
  const prefix = `/${options.stage}/@connections/`;
  return (req, res) => {
    void serve(req, res).catch(() => {
      if (!res.headersSent) sendError(res, 500);
      else res.destroy();
    });
  };

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? "").split("?")[0] ?? "";
    const method = req.method as ManagementMethod;
    const encodedId = path.startsWith(prefix) ? path.slice(prefix.length) : "";
    if (encodedId === "" || encodedId.includes("/") || !["POST", "GET", "DELETE"].includes(method)) {
      return sendError(res, 403);
    }
    const connectionId = safeDecode(encodedId);
    if (connectionId === undefined) return sendError(res, 403);

    let data: Buffer | undefined;
    if (method === "POST") {
      data = await readBody(req, options.maxPostBytes);
      if (data === undefined) return sendError(res, 413);
    }
    const fault = options.faults.take({ method, connectionId, payload: data });
    if (fault?.delayMs) await delay(fault.delayMs);
    if (fault?.status) return sendError(res, fault.status);

    const connection = options.registry.getOpen(connectionId);
    switch (method) {
      case "POST": {
        if (data === undefined || !connection) return sendError(res, 410);
        // Text frames, as browsers expect of chat JSON; bytes that are not UTF-8 can only go as a binary frame.
        connection.socket.send(data, { binary: !isUtf8(data) }, (err) => {
          if (err) sendError(res, 410);
          else send(res, 200);
        });
        return;
      }
      case "GET":
        if (!connection) return sendError(res, 410);
        return send(
          res,
          200,
          JSON.stringify({
            connectedAt: new Date(connection.connectedAt).toISOString(),
            identity: { sourceIp: connection.sourceIp, userAgent: connection.userAgent ?? "" },
            lastActiveAt: new Date(connection.lastActiveAt).toISOString(),
          }),
        );
      case "DELETE":
        return options.close(connectionId) ? send(res, 204) : sendError(res, 410);
    }
  }
}

function safeDecode(value: string): string | undefined {
  try {
    return decodeURIComponent(value);
  } catch {
    return undefined;
  }
}

/** The body, or undefined when it is over `limit`. Always read to the end, so the keep-alive socket stays usable. */
async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size <= limit) chunks.push(chunk as Buffer);
  }
  return size > limit ? undefined : Buffer.concat(chunks);
}

function send(res: ServerResponse, status: number, body = ""): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, {
    "Content-Type": "application/json",
    "Content-Length": Buffer.byteLength(body),
    "x-amzn-RequestId": gatewayId(),
  });
  res.end(body);
}

function sendError(res: ServerResponse, status: FaultStatus): void {
  const { type, message } = ERROR_TYPES[status];
  if (res.headersSent || res.destroyed) return;
  const body = JSON.stringify({ message });
  res.writeHead(status, {
    "Content-Type": "application/json",
    "Content-Length": Buffer.byteLength(body),
    "x-amzn-ErrorType": type,
    "x-amzn-RequestId": gatewayId(),
  });
  res.end(body);
}
