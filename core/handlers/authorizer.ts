import type { APIGatewayAuthorizerResult } from "aws-lambda";
import type { Env } from "../env.js";
import { TokenRejectedError } from "../errors.js";
import { type Logger, loggerFromEnv } from "../logger.js";
import { tokenFromHandshake } from "../token-transport.js";
import { type TokenVerifier, verifierFromEnv } from "../token-verifier.js";
import type { AuthorizerContext, WebSocketAuthorizerEvent } from "../websocket-event.js";

export interface AuthorizerDeps {
  verifier: Pick<TokenVerifier, "verify">;
  logger: Logger;
}

/**
 * The `$connect` REQUEST authorizer. Allows a valid SuperTokens session token and hands its claims to the
 * integrations; anything else is `Unauthorized` (401). Logs the reason category, never the token.
 */
export function createAuthorizerHandler({ verifier, logger }: AuthorizerDeps) {
  return async (event: WebSocketAuthorizerEvent): Promise<APIGatewayAuthorizerResult> => {
    const { connectionId, requestId } = event.requestContext;
    const log = logger.child({ connectionId, requestId });
    try {
      const claims = await verifier.verify(tokenFromHandshake(event));
      log.info("connect authorized", { userId: claims.userId, tenantId: claims.tenantId });
      const context: AuthorizerContext = claims;
      return {
        principalId: claims.userId,
        policyDocument: {
          Version: "2012-10-17",
          Statement: [{ Action: "execute-api:Invoke", Effect: "Allow", Resource: event.methodArn }],
        },
        context: { ...context },
      };
    } catch (err) {
      if (err instanceof TokenRejectedError) {
        log.warn("connect refused", { reason: err.reason });
      } else {
        log.error("authorizer failed; refusing", { error: err });
      }
      // The only error API Gateway turns into 401; anything else would be a 500.
      throw new Error("Unauthorized");
    }
  };
}

/** The authorizer as Lambda runs it, configured from the environment. */
export function authorizerFromEnv(env: Env, options: { allowInsecureLoopback?: boolean; logger?: Logger } = {}) {
  return createAuthorizerHandler({
    verifier: verifierFromEnv(env, options),
    logger: options.logger ?? loggerFromEnv(env),
  });
}
