import { authorizerFromEnv } from "../core/handlers/authorizer.js";

// Built at module scope so the JWKS cache survives between invocations of a warm Lambda.
export const handler = authorizerFromEnv(process.env);
