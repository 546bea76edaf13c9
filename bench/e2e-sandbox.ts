import { devSignInUrl } from "../sandbox/dev-auth.js";
import { startSandbox } from "../sandbox/sandbox.js";
import type { ServiceMethods } from "./child-protocol.js";
import type { ChatEndpoint } from "./e2e-client.js";

/**
 * The `e2e-sandbox` child service: the whole chat as `npm run dev` runs it (emulated API Gateway, the real handlers,
 * dynalite), on free loopback ports, quiet. In a child so that the 100 clients do not share its event loop.
 */
export async function serve(): Promise<ServiceMethods> {
  const sandbox = await startSandbox({ port: 0, logLevel: "error", log: () => {} });
  return {
    info: async (): Promise<ChatEndpoint> => ({
      webSocketUrl: sandbox.urls.webSocket,
      signInUrl: devSignInUrl(sandbox.urls.page),
    }),
    // No `close`: the process exits as soon as the bench lets go. Closing the sandbox would wait for the clients'
    // `$disconnect` handlers (each announces its leave to everyone still in the lobby): seconds that measure nothing.
  };
}
