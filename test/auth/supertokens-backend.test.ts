import type { RecipeInterface } from "supertokens-node/recipe/session";
import { describe, expect, it, vi } from "vitest";
import { superTokensConfig, withEmailClaim } from "../../core/supertokens-backend.js";

const OPTIONS = {
  connectionUri: "https://try.supertokens.com",
  appName: "Chat",
  apiDomain: "https://d111111abcdef8.cloudfront.net",
  websiteDomain: "https://d111111abcdef8.cloudfront.net",
  framework: "awsLambda",
} as const;

type CreateNewSession = RecipeInterface["createNewSession"];
type SessionInput = Parameters<CreateNewSession>[0];

/** A `createNewSession` input as the SDK passes it; only the fields the override reads matter. */
const sessionInput = (payload?: Record<string, unknown>) =>
  ({ userId: "user-1", accessTokenPayload: payload, tenantId: "public", userContext: {} }) as unknown as SessionInput;

function original() {
  const createNewSession = vi.fn<CreateNewSession>(async () => ({}) as Awaited<ReturnType<CreateNewSession>>);
  return { createNewSession, getSession: vi.fn() } as unknown as RecipeInterface & {
    createNewSession: typeof createNewSession;
  };
}

describe("superTokensConfig", () => {
  it("sets up EmailPassword and Session under /auth, with the app info given and no API key unless given", async () => {
    const config = await superTokensConfig(OPTIONS);
    expect(config).toMatchObject({
      framework: "awsLambda",
      isInServerlessEnv: false,
      supertokens: { connectionURI: OPTIONS.connectionUri },
      appInfo: {
        appName: "Chat",
        apiDomain: OPTIONS.apiDomain,
        websiteDomain: OPTIONS.websiteDomain,
        apiBasePath: "/auth",
      },
    });
    expect(config.supertokens).not.toHaveProperty("apiKey");
    expect(config.appInfo).not.toHaveProperty("apiGatewayPath");
    expect(config.recipeList).toHaveLength(2);

    const lambda = await superTokensConfig({
      ...OPTIONS,
      apiKey: "key",
      isInServerlessEnv: true,
      apiGatewayPath: "/prod",
    });
    expect(lambda).toMatchObject({
      isInServerlessEnv: true,
      supertokens: { apiKey: "key" },
      appInfo: { apiGatewayPath: "/prod" },
    });
  });
});

describe("withEmailClaim", () => {
  it("adds the user's first email to the new access token, keeping the payload it was given", async () => {
    const base = original();
    const getUser = vi.fn(async () => ({ emails: ["ada@example.com", "old@example.com"] }));
    await withEmailClaim(base, getUser).createNewSession(sessionInput({ "st-role": ["admin"] }));
    expect(getUser).toHaveBeenCalledWith("user-1", {});
    expect(base.createNewSession).toHaveBeenCalledWith(
      expect.objectContaining({ accessTokenPayload: { "st-role": ["admin"], email: "ada@example.com" } }),
    );
  });

  it("adds nothing for a user without an email, and leaves the other functions alone", async () => {
    const base = original();
    const functions = withEmailClaim(base, async () => ({ emails: [] }));
    await functions.createNewSession(sessionInput());
    expect(base.createNewSession).toHaveBeenCalledWith(expect.objectContaining({ accessTokenPayload: {} }));
    expect(functions.getSession).toBe(base.getSession);
  });
});
