/**
 * CDK context for the tests, in a module of its own: `chat-config.test.ts` needs these and not aws-cdk-lib, whose
 * import costs a test file seconds.
 */
export const JWKS_URI = "https://api.example.com/auth/jwt/jwks.json";
export const ISSUER = "https://api.example.com/auth";
/** Mode (b): tokens from an existing SuperTokens backend. */
export const VALID_CONTEXT = { jwksUri: JWKS_URI, issuer: ISSUER };
export const CONNECTION_URI = "https://try.supertokens.com";
export const API_KEY_PARAMETER = "/chat/supertokens-api-key";
/** Mode (a): the stack runs the SuperTokens backend, with the core's API key. */
export const SUPERTOKENS_CONTEXT = {
  supertokensConnectionUri: CONNECTION_URI,
  supertokensApiKeyParameter: API_KEY_PARAMETER,
};
/** Mode (a) on the public demo core, which takes no API key. */
export const DEMO_CORE_CONTEXT = { supertokensConnectionUri: CONNECTION_URI, allowCoreWithoutApiKey: "true" };
