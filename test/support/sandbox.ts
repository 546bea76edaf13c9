import { ScanCommand } from "@aws-sdk/lib-dynamodb";
import type { ConnectionRecord } from "../../core/connection-table.js";
import { type DevSignInResponse, devSignIn, devSignInUrl } from "../../sandbox/dev-auth.js";
import { generateSigningKey } from "../../sandbox/dev-issuer.js";
import { type Sandbox, type SandboxOptions, startSandbox } from "../../sandbox/sandbox.js";
import { openClient, type TestClient } from "./ws-client.js";

/** A sandbox started for a test: free ports, log lines kept for assertions instead of printed. */
export interface TestSandbox extends Sandbox {
  /** Every readable log line so far. */
  readonly logLines: string[];
}

/**
 * One development signing key for every sandbox a test process starts: making an RSA key is most of a sandbox's
 * start time. Made once, never changed.
 */
const sharedSigningKey = generateSigningKey();

/** Starts a sandbox on free ports, its log kept in `logLines`, signing with the shared key unless told otherwise. */
export async function startTestSandbox(options: SandboxOptions = {}): Promise<TestSandbox> {
  const logLines: string[] = [];
  const auth = options.auth ?? { kind: "development" };
  const sandbox = await startSandbox({
    port: 0,
    log: (line) => logLines.push(line),
    ...options,
    auth: auth.kind === "development" ? { signingKey: await sharedSigningKey, ...auth } : auth,
  });
  return Object.assign(sandbox, { logLines });
}

/** Signs in through the development endpoint, as the page does. */
export const signIn = (sandbox: Sandbox, name: string): Promise<DevSignInResponse> =>
  devSignIn(devSignInUrl(sandbox.urls.page), name);

/** A signed-in test client: who it is, and which connection the gateway gave it. */
export type ChatClient = TestClient & { userId: string; connectionId: string };

/**
 * Signs in as `name` and opens a socket with the token. The same name is the same user, so calling it twice gives
 * one user two connections (two tabs), each with its own `connectionId`.
 */
export async function connectAs(sandbox: Sandbox, name: string): Promise<ChatClient> {
  const { accessToken, user } = await signIn(sandbox, name);
  const client = await openClient(sandbox.urls.webSocket, {
    token: accessToken,
    headers: { "User-Agent": `test-${name}` },
  });
  return Object.assign(client, { userId: user.userId, connectionId: connectionIdAt(sandbox, client) });
}

/** The id of the open connection whose client socket is `client` (matched on the client's local port). */
export function connectionIdAt(sandbox: Sandbox, client: TestClient): string {
  const match = sandbox.hooks
    .connections()
    .find((connection) => client.localPort !== undefined && connection.sourcePort === client.localPort);
  if (!match) throw new Error(`no open connection from local port ${client.localPort}`);
  return match.connectionId;
}

/** Every record in the connections table, live or not. */
export async function connectionRecords(sandbox: Sandbox): Promise<ConnectionRecord[]> {
  const records: ConnectionRecord[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await sandbox.dynamo.client.send(
      new ScanCommand({ TableName: sandbox.dynamo.tableName, ExclusiveStartKey: startKey, ConsistentRead: true }),
    );
    records.push(...((page.Items ?? []) as ConnectionRecord[]));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return records;
}

/** The id of the connection a client holds, found by the principal its token named. */
export function connectionIdOf(sandbox: Sandbox, userId: string): string {
  const matches = sandbox.hooks.connections().filter((connection) => connection.principalId === userId);
  if (matches.length !== 1) throw new Error(`${matches.length} open connections for ${userId}`);
  return (matches[0] as { connectionId: string }).connectionId;
}

/**
 * Makes "nothing more will arrive" checkable without sleeping: waits until no handler runs, then posts a marker
 * to every client through the management API and waits for each. A socket delivers in order, so whatever the
 * handlers sent before is in `frames` once the marker is.
 */
export async function flushDeliveries(
  sandbox: Sandbox,
  clients: readonly (TestClient & { userId: string; connectionId?: string })[],
) {
  await sandbox.hooks.idle();
  const marker = `flush-${Math.random().toString(36).slice(2)}`;
  await Promise.all(
    clients.map(async (client) => {
      const id = client.connectionId ?? connectionIdOf(sandbox, client.userId);
      const response = await fetch(`${sandbox.urls.management}/@connections/${encodeURIComponent(id)}`, {
        method: "POST",
        body: JSON.stringify({ type: "marker", marker }),
      });
      if (response.status !== 200) throw new Error(`marker post answered ${response.status}`);
      await client.waitFor((frame) => (frame as { marker?: string }).marker === marker);
    }),
  );
}

/** Frame predicates the sandbox and security tests share. */
export const isMessageFrame = (frame: unknown): boolean => (frame as { type?: unknown }).type === "message";
export const isRefreshed = (frame: unknown): boolean => (frame as { type?: unknown }).type === "refreshed";
