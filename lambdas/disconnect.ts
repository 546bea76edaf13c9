import { disconnectFromEnv } from "../core/handlers/disconnect.js";

// Built at module scope so clients and their sockets survive between invocations of a warm Lambda.
export const handler = disconnectFromEnv(process.env);
