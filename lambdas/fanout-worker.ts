import { fanoutWorkerFromEnv } from "../core/handlers/fanout-worker.js";

// Built at module scope so clients and their sockets survive between invocations of a warm Lambda.
export const handler = fanoutWorkerFromEnv(process.env);
