import { connectFromEnv } from "../core/handlers/connect.js";

// Built at module scope so clients and their sockets survive between invocations of a warm Lambda.
export const handler = connectFromEnv(process.env);
