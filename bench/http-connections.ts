import { createHash, createHmac } from "node:crypto";
import { Agent, type OutgoingHttpHeaders, request } from "node:http";
import { SignatureV4 } from "@smithy/signature-v4";
import type { ConnectionsApi } from "../core/connections-api.js";

export interface HttpConnectionsOptions {
  /** Management API endpoint, `http://host:port/<stage>`. */
  endpoint: string;
  /** Keep-alive sockets, as `createManagementClient` sizes them. */
  maxSockets: number;
  /** Sign each call with SigV4 (`execute-api`), as API Gateway requires. @default false */
  sign?: boolean;
}

/**
 * The `@connections` calls as plain `node:http` requests on a keep-alive pool, with or without a SigV4 signature, and
 * no SDK. Not deployed: unsigned, it tells how much of a broadcast's CPU is the SDK rather than HTTP itself; signed,
 * it is what a lean core `ConnectionsApi` would cost (docs/PERFORMANCE.md).
 */
export class HttpConnections implements ConnectionsApi {
  private readonly agent: Agent;
  private readonly url: URL;
  private readonly signer: SignatureV4 | undefined;

  constructor(options: HttpConnectionsOptions) {
    this.url = new URL(options.endpoint);
    this.agent = new Agent({ keepAlive: true, maxSockets: options.maxSockets });
    this.signer = options.sign
      ? new SignatureV4({
          service: "execute-api",
          region: "local",
          credentials: { accessKeyId: "local", secretAccessKey: "local" },
          sha256: NodeSha256,
        })
      : undefined;
  }

  post(connectionId: string, data: string): Promise<void> {
    return this.call("POST", connectionId, data);
  }

  close(connectionId: string): Promise<void> {
    return this.call("DELETE", connectionId);
  }

  private async call(method: string, connectionId: string, body?: string): Promise<void> {
    const path = `${this.url.pathname}/@connections/${encodeURIComponent(connectionId)}`;
    let headers: OutgoingHttpHeaders = {
      host: this.url.host,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    };
    if (this.signer) {
      const signed = await this.signer.sign({
        method,
        protocol: this.url.protocol,
        hostname: this.url.hostname,
        port: Number(this.url.port),
        path,
        query: {},
        headers: headers as Record<string, string>,
        body,
      });
      headers = signed.headers;
    }
    return new Promise((resolve, reject) => {
      const req = request(
        { host: this.url.hostname, port: this.url.port, path, method, agent: this.agent, headers },
        (res) => {
          res.resume();
          res.once("end", () =>
            (res.statusCode ?? 0) < 300
              ? resolve()
              : reject(Object.assign(new Error(`status ${res.statusCode}`), { name: errorName(res.statusCode) })),
          );
        },
      );
      req.once("error", reject);
      req.end(body);
    });
  }
}

const errorName = (status: number | undefined) =>
  status === 410 ? "GoneException" : status === 429 ? "LimitExceededException" : "Error";

/** SHA-256 and HMAC-SHA-256 from node:crypto, in the shape the signer takes. */
class NodeSha256 {
  private readonly hash;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash = secret === undefined ? createHash("sha256") : createHmac("sha256", toBuffer(secret));
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.hash.update(toBuffer(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
  reset(): void {}
}

const toBuffer = (data: string | ArrayBuffer | ArrayBufferView): Buffer =>
  typeof data === "string"
    ? Buffer.from(data)
    : ArrayBuffer.isView(data)
      ? Buffer.from(data.buffer, data.byteOffset, data.byteLength)
      : Buffer.from(data);
