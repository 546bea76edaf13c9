import type { ChildProcess } from "node:child_process";

/** A child's answer to one request. */
export type IpcReply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

export interface IpcCallsOptions {
  /** Names the child in errors, e.g. `bench service fanout-runner`. */
  label: string;
  /** The error pending calls get when the child exits. @default "<label> exited (<signal or code>)" */
  exitError?: (code: number | null, signal: NodeJS.Signals | null) => Error;
}

/**
 * Request/reply over a child's IPC channel, shared by the bench's children and the load test's sandbox: each call
 * gets an id and is settled by its reply, by the child's exit, or by its timeout.
 */
export class IpcCalls {
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (err: Error) => void }>();

  constructor(
    private readonly child: ChildProcess,
    private readonly options: IpcCallsOptions,
  ) {
    child.on("message", (reply: IpcReply) => {
      const waiter = this.pending.get(reply.id);
      if (!waiter) return;
      this.pending.delete(reply.id);
      if (reply.ok) waiter.resolve(reply.result);
      else waiter.reject(new Error(`${options.label}: ${reply.error}`));
    });
    child.once("exit", (code, signal) => {
      const err = options.exitError?.(code, signal) ?? new Error(`${options.label} exited (${signal ?? code})`);
      for (const waiter of this.pending.values()) waiter.reject(err);
      this.pending.clear();
    });
  }

  /** Sends `request` with a fresh id; rejects after `timeoutMs`, calling `onTimeout` first. */
  call<T>(request: object, timeoutMs: number, onTimeout?: () => void): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        onTimeout?.();
        reject(new Error(`${this.options.label}: ${describe(request)} did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value as T);
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      });
      this.child.send({ ...request, id }, (err) => {
        if (err) this.pending.get(id)?.reject(err);
      });
    });
  }
}

const describe = (request: object) => String((request as { method?: unknown }).method ?? "a call");
