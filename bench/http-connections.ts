import { Agent, request } from "node:http";
import type { ConnectionsApi } from "../core/connections-api.js";

export interface HttpConnectionsOptions {
  /** Management API endpoint, `http://host:port/<stage>`. */
  endpoint: string;
  /** Keep-alive sockets, as `createManagementClient` sizes them. */
  maxSockets: number;
}

/**
 * The `@connections` calls as plain, unsigned `node:http` requests on a keep-alive pool. Not a product (API Gateway
 * wants a signature): it tells how much of a send's CPU is HTTP itself.
 */
export class HttpConnections implements ConnectionsApi {
  private readonly agent: Agent;
  private readonly url: URL;

  constructor(options: HttpConnectionsOptions) {
    this.url = new URL(options.endpoint);
    this.agent = new Agent({ keepAlive: true, maxSockets: options.maxSockets });
  }

  post(connectionId: string, data: string): Promise<void> {
    return this.call("POST", connectionId, data);
  }

  close(connectionId: string): Promise<void> {
    return this.call("DELETE", connectionId);
  }

  private call(method: string, connectionId: string, body?: string): Promise<void> {
    const path = `${this.url.pathname}/@connections/${encodeURIComponent(connectionId)}`;
    const headers = body === undefined ? {} : { "content-type": "application/json" };
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
