import { GetParametersCommand, SSMClient } from "@aws-sdk/client-ssm";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from "aws-lambda";
import { middleware } from "supertokens-node/framework/awsLambda";
import { type Env, requireEnv } from "../core/env.js";
import { ConfigurationError } from "../core/errors.js";
import { initSuperTokens, type SuperTokensBackendOptions, SuperTokensEnvVar } from "../core/supertokens-backend.js";

type AuthApiHandler = (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;

/**
 * The SuperTokens backend behind the HTTP API, reached through CloudFront at `<site>/auth/*`.
 *
 * On the first request of a container it reads, in one SSM call, the site origin (written by the stack once the
 * distribution exists: the function cannot get it in its environment, since the distribution depends on this
 * function's API) and the core's API key (a SecureString; only its name is in the environment). Both are kept for
 * the life of the container; a failed read is retried by the next request.
 */
export function createAuthApiHandler(
  env: Env,
  ssm: Pick<SSMClient, "send">,
  init: (options: SuperTokensBackendOptions) => Promise<void> = initSuperTokens,
): AuthApiHandler {
  let ready: Promise<void> | undefined;
  const serve = middleware();
  return async (event, context) => {
    ready ??= start(env, ssm, init).catch((err: unknown) => {
      ready = undefined;
      throw err;
    });
    await ready;
    return serve(event, context, () => {});
  };
}

async function start(
  env: Env,
  ssm: Pick<SSMClient, "send">,
  init: (options: SuperTokensBackendOptions) => Promise<void>,
) {
  const connectionUri = requireEnv(env, SuperTokensEnvVar.ConnectionUri);
  const originName = requireEnv(env, SuperTokensEnvVar.SiteOriginParameter);
  const apiKeyName = env[SuperTokensEnvVar.ApiKeyParameter] || undefined;
  const values = await readParameters(ssm, [originName, ...(apiKeyName ? [apiKeyName] : [])]);
  const origin = values.get(originName) as string;
  await init({
    framework: "awsLambda",
    isInServerlessEnv: true,
    connectionUri,
    apiKey: apiKeyName ? values.get(apiKeyName) : undefined,
    appName: env[SuperTokensEnvVar.AppName] || "Chat",
    // Page and API share the CloudFront origin; the HTTP API's $default stage adds no path (no apiGatewayPath).
    apiDomain: origin,
    websiteDomain: origin,
  });
}

/** Reads parameters (SecureStrings decrypted), failing with the name of any that does not exist. */
async function readParameters(ssm: Pick<SSMClient, "send">, names: string[]): Promise<Map<string, string>> {
  const { Parameters = [], InvalidParameters = [] } = await ssm.send(
    new GetParametersCommand({ Names: names, WithDecryption: true }),
  );
  const [missing] = InvalidParameters;
  if (missing) throw new ConfigurationError(missing, "is not an SSM parameter of this account and Region");
  return new Map(Parameters.map(({ Name, Value }) => [Name ?? "", Value ?? ""]));
}

// Module scope: the client, its connections and the SuperTokens setup survive between invocations of a warm Lambda.
export const handler = createAuthApiHandler(process.env, new SSMClient({}));
