import { GetParametersCommand, SSMClient } from "@aws-sdk/client-ssm";
import type { Context } from "aws-lambda";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { ConfigurationError } from "../../core/errors.js";
import type { SuperTokensBackendOptions } from "../../core/supertokens-backend.js";
import { createAuthApiHandler } from "../../lambdas/auth-api.js";
import { httpEvent, type StandIn, signInEvent, superTokensCore } from "./stand-ins.js";

const ORIGIN = "https://d111111abcdef8.cloudfront.net";
const API_KEY = "fake-api-key-7f3a";
const ENV = {
  SUPERTOKENS_CONNECTION_URI: "https://try.supertokens.com",
  SITE_ORIGIN_PARAMETER: "/Chat/site-origin",
  SUPERTOKENS_API_KEY_PARAMETER: "/chat/supertokens-api-key",
  APP_NAME: "Team chat",
};

const ssmMock = mockClient(SSMClient);
const ssm = new SSMClient({ region: "eu-west-1", credentials: { accessKeyId: "test", secretAccessKey: "test" } });
const context = {} as Context;

function parametersAnswer(names: string[]) {
  const values: Record<string, string> = {
    [ENV.SITE_ORIGIN_PARAMETER]: ORIGIN,
    [ENV.SUPERTOKENS_API_KEY_PARAMETER]: API_KEY,
  };
  return { Parameters: names.map((Name) => ({ Name, Value: values[Name], Type: "String" as const })) };
}

beforeEach(() => {
  ssmMock.reset();
  ssmMock.on(GetParametersCommand).callsFake(({ Names }) => parametersAnswer(Names));
});

describe("auth API handler: settings at cold start", () => {
  const fakeInit = () => vi.fn<(options: SuperTokensBackendOptions) => Promise<void>>(async () => {});

  it("reads the site origin and the API key in one call, decrypted, and starts SuperTokens on the site origin", async () => {
    const init = fakeInit();
    await createAuthApiHandler(ENV, ssm, init)(httpEvent("GET", "/auth/nothing"), context).catch(() => {});
    expect(ssmMock.commandCalls(GetParametersCommand).map((call) => call.args[0].input)).toEqual([
      { Names: [ENV.SITE_ORIGIN_PARAMETER, ENV.SUPERTOKENS_API_KEY_PARAMETER], WithDecryption: true },
    ]);
    expect(init).toHaveBeenCalledExactlyOnceWith({
      framework: "awsLambda",
      isInServerlessEnv: true,
      connectionUri: ENV.SUPERTOKENS_CONNECTION_URI,
      apiKey: API_KEY,
      appName: "Team chat",
      apiDomain: ORIGIN,
      websiteDomain: ORIGIN,
    });
  });

  it("keeps them for the life of the container", async () => {
    const init = fakeInit();
    const handler = createAuthApiHandler(ENV, ssm, init);
    for (let i = 0; i < 3; i++) await handler(httpEvent("GET", "/auth/nothing"), context).catch(() => {});
    expect(ssmMock.commandCalls(GetParametersCommand)).toHaveLength(1);
    expect(init).toHaveBeenCalledOnce();
  });

  it("asks for no API key when the core needs none", async () => {
    const init = fakeInit();
    const { SUPERTOKENS_API_KEY_PARAMETER: _, ...env } = ENV;
    await createAuthApiHandler(env, ssm, init)(httpEvent("GET", "/auth/nothing"), context).catch(() => {});
    expect(ssmMock.commandCalls(GetParametersCommand)[0]?.args[0].input.Names).toEqual([ENV.SITE_ORIGIN_PARAMETER]);
    expect(init.mock.calls[0]?.[0].apiKey).toBeUndefined();
  });

  it("fails the request when SSM does, and tries again on the next one", async () => {
    ssmMock
      .on(GetParametersCommand)
      .rejectsOnce(new Error("throttled"))
      .callsFake(({ Names }) => parametersAnswer(Names));
    const init = fakeInit();
    const handler = createAuthApiHandler(ENV, ssm, init);
    await expect(handler(httpEvent("GET", "/auth/nothing"), context)).rejects.toThrow("throttled");
    expect(init).not.toHaveBeenCalled();
    await handler(httpEvent("GET", "/auth/nothing"), context).catch(() => {});
    expect(init).toHaveBeenCalledOnce();
  });

  it("names a parameter that does not exist, and a variable that is not set", async () => {
    ssmMock.on(GetParametersCommand).resolves({ Parameters: [], InvalidParameters: [ENV.SITE_ORIGIN_PARAMETER] });
    const missing = createAuthApiHandler(ENV, ssm, fakeInit())(httpEvent("GET", "/auth/x"), context);
    await expect(missing).rejects.toThrow(
      new ConfigurationError(ENV.SITE_ORIGIN_PARAMETER, "is not an SSM parameter of this account and Region"),
    );
    const { SITE_ORIGIN_PARAMETER: _, ...env } = ENV;
    await expect(createAuthApiHandler(env, ssm, fakeInit())(httpEvent("GET", "/auth/x"), context)).rejects.toThrow(
      /^SITE_ORIGIN_PARAMETER is not set/,
    );
  });
});

describe("auth API handler: real supertokens-node against a stand-in core", () => {
  let core: StandIn;
  let handler: ReturnType<typeof createAuthApiHandler>;
  beforeAll(async () => {
    core = await superTokensCore();
    handler = createAuthApiHandler({ ...ENV, SUPERTOKENS_CONNECTION_URI: core.url }, ssm);
  });
  afterAll(() => core.close());

  it("answers a sign-in at /auth/signin through the core, sending it the API key read from SSM", async () => {
    const response = await handler(signInEvent(), context);
    expect(response.statusCode).toBe(200);
    expect(JSON.parse(response.body ?? "")).toEqual({ status: "WRONG_CREDENTIALS_ERROR" });
    expect(core.requests.map((request) => request.url)).toContainEqual(
      expect.stringContaining("/users/by-accountinfo"),
    );
    for (const request of core.requests) expect(request.headers["api-key"]).toBe(API_KEY);
  });

  it("refuses a session refresh without a refresh token, and serves nothing outside SuperTokens' routes", async () => {
    const refresh = await handler(httpEvent("POST", "/auth/session/refresh"), context);
    expect(refresh.statusCode).toBe(401);
    const unknown = await handler(httpEvent("GET", "/auth/nothing-here"), context);
    expect(unknown.statusCode).toBe(404);
  });

  it("serves no password reset and no 'does this email have an account' check, which the page does not offer", async () => {
    const email = [{ id: "email", value: "ada@example.com" }];
    const exists = (path: string) => ({
      ...httpEvent("GET", path),
      rawQueryString: "email=ada%40example.com",
      queryStringParameters: { email: "ada@example.com" },
    });
    const before = core.requests.length;
    for (const event of [
      httpEvent("POST", "/auth/user/password/reset/token", { formFields: email }),
      httpEvent("POST", "/auth/user/password/reset", {
        method: "token",
        token: "t",
        formFields: [{ id: "password", value: "new-password-1" }],
      }),
      exists("/auth/emailpassword/email/exists"),
      exists("/auth/signup/email/exists"),
    ]) {
      expect((await handler(event, context)).statusCode, event.rawPath).toBe(404);
    }
    expect(core.requests.slice(before)).toEqual([]); // no mail sent, nobody looked up
  });
});
