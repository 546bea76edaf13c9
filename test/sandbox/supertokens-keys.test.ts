import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type StandIn, standIn } from "../auth/stand-ins.js";
import { startTestSandbox, type TestSandbox } from "../support/sandbox.js";
import { startTokenIssuer, type TokenIssuer } from "../support/token-issuer.js";
import { openClient, refusedStatus } from "../support/ws-client.js";

// The whole trust chain of SuperTokens mode: the authorizer fetches <page>/auth/jwt/jwks.json, supertokens-node
// answers it from the core's keys, and a token signed with one of them (issuer <page>/auth) opens a socket.
// Its own file, because supertokens.init is per process and this test needs a core that serves keys.
describe("the sandbox with a SuperTokens core that serves keys", () => {
  let keys: unknown = { keys: [] };
  let core: StandIn;
  let sandbox: TestSandbox;
  let issuer: TokenIssuer;
  beforeAll(async () => {
    // Only what this test needs of a core: its API version, and its signing keys.
    core = await standIn(({ url }) => (url?.startsWith("/apiversion") ? { versions: ["5.4"] } : keys));
    sandbox = await startTestSandbox({ auth: { kind: "supertokens", connectionUri: core.url } });
    // Keys no code under sandbox/ or core/ made, signing tokens as SuperTokens at <page>/auth would.
    issuer = await startTokenIssuer({ issuer: sandbox.urls.issuer });
    keys = await (await fetch(issuer.jwksUri)).json();
  });
  afterAll(async () => {
    await sandbox?.close();
    await issuer?.close();
    await core?.close();
  });

  it("opens a socket for a token signed with the core's key, and refuses one from another issuer", async () => {
    const client = await openClient(sandbox.urls.webSocket, { token: issuer.sessionToken({ userId: "st-user-1" }) });
    expect(sandbox.hooks.connections().map((connection) => connection.principalId)).toEqual(["st-user-1"]);
    await client.close();

    const stranger = issuer.sessionToken({ userId: "st-user-2", claims: { iss: "https://elsewhere.example/auth" } });
    expect(await refusedStatus(sandbox.urls.webSocket, { token: stranger })).toBe(401);
    expect(core.requests.some((request) => request.url?.startsWith("/.well-known/jwks.json"))).toBe(true);
  });
});
