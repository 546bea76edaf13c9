import { messageFromEnv } from "../core/handlers/message.js";

// Built at module scope so clients and their sockets survive between invocations of a warm Lambda.
export const handler = messageFromEnv(process.env);
