import type { ConnectionsApi } from "../../core/connections-api.js";
import type { ServerFrame } from "../../core/protocol.js";

/** A management API that keeps what each connection was sent; ids marked gone answer 410 as API Gateway does. */
export class RecordingApi implements ConnectionsApi {
  readonly frames = new Map<string, ServerFrame[]>();
  readonly closed: string[] = [];
  readonly gone = new Set<string>();

  async post(connectionId: string, data: string): Promise<void> {
    if (this.gone.has(connectionId)) throw Object.assign(new Error("gone"), { name: "GoneException" });
    this.frames.set(connectionId, [...(this.frames.get(connectionId) ?? []), JSON.parse(data) as ServerFrame]);
  }

  async close(connectionId: string): Promise<void> {
    this.closed.push(connectionId);
  }

  /** Frames of one type sent to a connection. */
  of<T extends ServerFrame["type"]>(connectionId: string, type: T): (ServerFrame & { type: T })[] {
    return (this.frames.get(connectionId) ?? []).filter((f): f is ServerFrame & { type: T } => f.type === type);
  }

  clear(): void {
    this.frames.clear();
  }
}
