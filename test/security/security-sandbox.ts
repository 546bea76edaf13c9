import { ScanCommand } from "@aws-sdk/lib-dynamodb";
import { expect } from "vitest";
import { EnvVar } from "../../core/env.js";
import { Logger } from "../../core/logger.js";
import type { MessageFrame } from "../../core/protocol.js";
import { createHandlers, type SandboxHandlers } from "../../sandbox/handlers.js";
import type { Invocation } from "../../sandbox/invoker.js";
import type { SandboxOptions } from "../../sandbox/sandbox.js";
import { connectionIdAt, startTestSandbox, type TestSandbox } from "../support/sandbox.js";
import type { TestClient } from "../support/ws-client.js";

/**
 * A test sandbox that also keeps the handlers' structured JSON log lines (`handlerLog`: the readable log shows only
 * a whitelist of their fields), records every invocation, and can restart the authorizer and the message handler as
 * a new Lambda instance of each would start: empty JWKS caches, new SDK clients.
 */
export interface SecuritySandbox extends TestSandbox {
  /** Every JSON line the handlers logged, at debug and above. */
  readonly jsonLines: string[];
  readonly invocations: Invocation[];
  /**
   * Replaces the authorizer and the message handler with freshly built ones, as cold Lambda instances. Their lines go
   * to `jsonLines` only (the readable log then says `refused 401 unauthorized` without the category), and the new
   * message handler sends every broadcast itself, without the sandbox's fan-out queue.
   */
  coldStart(): void;
  /** Whether `coldStart` has run. */
  readonly coldStarted: boolean;
}

export async function startSecuritySandbox(options: SandboxOptions = {}): Promise<SecuritySandbox> {
  const jsonLines: string[] = [];
  const invocations: Invocation[] = [];
  let fresh: Pick<SandboxHandlers, "authorizer" | "message"> | undefined;
  const sandbox = await startTestSandbox({
    logLevel: "debug",
    ...options,
    handlerLog: (line) => {
      jsonLines.push(line);
      options.handlerLog?.(line);
    },
    onInvoke: (invocation) => {
      invocations.push(invocation);
      options.onInvoke?.(invocation);
    },
    handlers: (real) => ({
      authorizer: (event) => (fresh ?? real).authorizer(event),
      message: (event) => (fresh ?? real).message(event),
    }),
  });
  const coldLogger = new Logger({ level: "debug", sink: (line) => jsonLines.push(line) });
  const extras = {
    jsonLines,
    invocations,
    coldStart() {
      const { authorizer, message } = createHandlers(sandbox.env, coldLogger, { clock: options.clock });
      fresh = { authorizer, message };
    },
  };
  // A getter, so it cannot be copied in with Object.assign.
  return Object.defineProperty(Object.assign(sandbox, extras), "coldStarted", {
    get: () => fresh !== undefined,
  }) as TestSandbox & typeof extras & { readonly coldStarted: boolean };
}

/** The handlers' JSON lines, parsed. */
export const jsonEntries = (sandbox: SecuritySandbox): Record<string, unknown>[] =>
  sandbox.jsonLines.map((line) => JSON.parse(line) as Record<string, unknown>);

/** A JWT, or what starts like one: a base64url-encoded JSON object. */
const JWT_SHAPE = /eyJ[\w-]{8,}/;

/**
 * Fails when any of `tokens`, or any of their dot-separated parts long enough to be telling, appears in the sandbox's
 * readable log or in the handlers' JSON log, or when either holds anything JWT-shaped (the readable log masks those
 * as `<token>`, which would still mean something tried to log one).
 */
export function expectNoTokenInLogs(sandbox: SecuritySandbox, tokens: readonly string[]): void {
  const logs = { "sandbox log": sandbox.logLines.join("\n"), "handler JSON log": sandbox.jsonLines.join("\n") };
  for (const [name, text] of Object.entries(logs)) {
    for (const token of tokens) {
      const parts = [token, ...token.split(".").filter((part) => part.length >= 12)];
      for (const part of parts) expect(text, `${name} holds part of a token`).not.toContain(part);
    }
    expect(text, `${name} holds something JWT-shaped`).not.toMatch(JWT_SHAPE);
    expect(text, `${name} masked a token`).not.toContain("<token>");
  }
}

/** Items in the rooms table whose sort key starts with `prefix` (`member#`: memberships). */
export async function roomItems(sandbox: TestSandbox, prefix: string): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await sandbox.dynamo.client.send(
      new ScanCommand({
        TableName: sandbox.env[EnvVar.RoomsTableName],
        ExclusiveStartKey: startKey,
        ConsistentRead: true,
      }),
    );
    items.push(...(page.Items ?? []).filter((item) => String(item.sk).startsWith(prefix)));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return items;
}

/** `$connect` invocations for a connection id, or all of them. */
export const connectRuns = (sandbox: SecuritySandbox): Invocation[] =>
  sandbox.invocations.filter((invocation) => invocation.handler === "route" && invocation.routeKey === "$connect");

export const authorizerRuns = (sandbox: SecuritySandbox): Invocation[] =>
  sandbox.invocations.filter((invocation) => invocation.handler === "authorizer");

export const isMessageWith = (text: string) => (frame: unknown) =>
  (frame as MessageFrame).type === "message" && (frame as MessageFrame).text === text;

export const isErrorWith = (code: string) => (frame: unknown) =>
  (frame as { type?: string; code?: string }).type === "error" && (frame as { code?: string }).code === code;

/** Closes a client and waits until the sandbox has run its `$disconnect`. */
export async function closeAndSettle(sandbox: TestSandbox, client: TestClient): Promise<void> {
  const ended = sandbox.hooks.whenEnded(connectionIdAt(sandbox, client));
  await client.close();
  await ended;
}
