import type { APIInterface as EmailPasswordApis } from "supertokens-node/recipe/emailpassword";
import type { RecipeInterface as SessionFunctions } from "supertokens-node/recipe/session";
import type { TypeInput, User } from "supertokens-node/types";
import { AUTH_BASE_PATH } from "./site-config.js";

/**
 * The SuperTokens backend (supertokens-node with EmailPassword and Session), configured one way for every host: the
 * auth Lambda behind CloudFront, and the sandbox's real-SuperTokens mode. Nothing here knows about Lambda.
 *
 * supertokens-node is loaded on first use, not on import: the CDK app imports this module for `SuperTokensEnvVar`
 * alone, and loading the SDK costs about a second.
 */

/** Environment variables of the SuperTokens backend. Values of secrets never travel in them, only where to read them. */
export const SuperTokensEnvVar = {
  /** SuperTokens core, e.g. `https://try.supertokens.com`. */
  ConnectionUri: "SUPERTOKENS_CONNECTION_URI",
  /** Name of the SSM SecureString parameter holding the core's API key; unset when the core needs none. */
  ApiKeyParameter: "SUPERTOKENS_API_KEY_PARAMETER",
  /** Name of the SSM parameter holding the site origin (`https://<distribution domain>`). */
  SiteOriginParameter: "SITE_ORIGIN_PARAMETER",
  /** `appInfo.appName`, shown in SuperTokens' emails. */
  AppName: "APP_NAME",
} as const;

export interface SuperTokensBackendOptions {
  /** SuperTokens core URL (several may be joined with `;`), e.g. `https://try.supertokens.com`. */
  connectionUri: string;
  /** The core's API key. @default none: the demo core and cores without API keys */
  apiKey?: string;
  appName: string;
  /** Origin serving `apiBasePath`, e.g. `https://d111111abcdef8.cloudfront.net`. */
  apiDomain: string;
  /** Origin of the page; the same as `apiDomain` when page and API share one origin. */
  websiteDomain: string;
  /** @default AUTH_BASE_PATH */
  apiBasePath?: string;
  /** Path of the API Gateway stage in front of the backend. @default none ($default stage, or no API Gateway) */
  apiGatewayPath?: string;
  /** How requests reach supertokens-node: `awsLambda`, `express`, `custom`, ... */
  framework: NonNullable<TypeInput["framework"]>;
  /** Short-lived processes such as Lambda. @default false */
  isInServerlessEnv?: boolean;
}

/** The `supertokens.init` input for `options`: EmailPassword, and Session with the token readable by the page. */
export async function superTokensConfig(options: SuperTokensBackendOptions): Promise<TypeInput> {
  const [{ getUser }, EmailPassword, Session] = await Promise.all([
    import("supertokens-node"),
    import("supertokens-node/recipe/emailpassword"),
    import("supertokens-node/recipe/session"),
  ]);
  return {
    framework: options.framework,
    isInServerlessEnv: options.isInServerlessEnv ?? false,
    supertokens: { connectionURI: options.connectionUri, ...(options.apiKey ? { apiKey: options.apiKey } : {}) },
    appInfo: {
      appName: options.appName,
      apiDomain: options.apiDomain,
      websiteDomain: options.websiteDomain,
      apiBasePath: options.apiBasePath ?? AUTH_BASE_PATH,
      ...(options.apiGatewayPath ? { apiGatewayPath: options.apiGatewayPath } : {}),
    },
    recipeList: [
      EmailPassword.init({ override: { apis: withoutUnofferedApis } }),
      Session.init({
        // The page reads the access token to open the WebSocket (the token goes in the URL or a subprotocol).
        exposeAccessTokenToFrontendInCookieBasedAuth: true,
        override: { functions: (original) => withEmailClaim(original, getUser) },
      }),
    ],
  };
}

/**
 * EmailPassword's APIs less the ones the page does not offer. A password reset would mail a link to a page that does
 * not exist, to any registered address anyone names; the "does this email have an account" check only helps
 * someone collect the addresses of this chat's users. Sign-up still says when an address is taken.
 */
function withoutUnofferedApis(original: EmailPasswordApis): EmailPasswordApis {
  return {
    ...original,
    generatePasswordResetTokenPOST: undefined,
    passwordResetPOST: undefined,
    emailExistsGET: undefined,
  };
}

/** Initialises supertokens-node for this process (once: later calls are ignored by the SDK). */
export async function initSuperTokens(options: SuperTokensBackendOptions): Promise<void> {
  const [{ init }, config] = await Promise.all([import("supertokens-node"), superTokensConfig(options)]);
  init(config);
}

/**
 * Adds the user's email to new access tokens as `email`, which the chat shows as the sender's name (SuperTokens puts
 * no name in the token). This is SuperTokens' documented way: override `createNewSession`. Refreshed tokens keep it.
 */
export function withEmailClaim(
  original: SessionFunctions,
  getUser: (userId: string, userContext?: Record<string, unknown>) => Promise<Pick<User, "emails"> | undefined>,
): SessionFunctions {
  return {
    ...original,
    async createNewSession(input) {
      const email = (await getUser(input.userId, input.userContext))?.emails[0];
      return original.createNewSession({
        ...input,
        accessTokenPayload: { ...input.accessTokenPayload, ...(email ? { email } : {}) },
      });
    },
  };
}
