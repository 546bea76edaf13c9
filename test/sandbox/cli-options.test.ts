import { describe, expect, it } from "vitest";
import { ConfigurationError } from "../../core/errors.js";
import { sandboxOptionsFromEnv } from "../../sandbox/cli-options.js";

describe("npm run dev settings", () => {
  it("defaults to port 3000, the development issuer and in-process dynalite", () => {
    expect(sandboxOptionsFromEnv({})).toEqual({
      port: 3000,
      auth: { kind: "development" },
      dynamo: { kind: "dynalite" },
      handlerEnv: {},
    });
  });

  it("reads every variable", () => {
    expect(
      sandboxOptionsFromEnv({
        PORT: "0",
        GATEWAY_PORT: "4001",
        DYNAMODB: "dynamodb-local",
        DEV_TOKEN_TTL_SECONDS: "60",
        LOG_LEVEL: "DEBUG",
        TOKEN_TRANSPORT: "subprotocol",
        WEB_ROOT: "/tmp/web",
        MESSAGE_BURST: "20",
        FANOUT_BATCH_SIZE: "2",
        FANOUT_WORKERS: "8",
        UNRELATED: "x",
      }),
    ).toEqual({
      port: 0,
      gatewayPort: 4001,
      auth: { kind: "development", tokenTtlSeconds: 60 },
      dynamo: { kind: "dynamodb-local" },
      logLevel: "debug",
      tokenTransport: "subprotocol",
      webRoot: "/tmp/web",
      fanoutWorkers: 8,
      handlerEnv: { MESSAGE_BURST: "20", FANOUT_BATCH_SIZE: "2" },
    });
  });

  it("trusts an external issuer given both AUTH_ variables, and a DynamoDB endpoint given a URL", () => {
    expect(
      sandboxOptionsFromEnv({
        AUTH_JWKS_URI: "https://api.example.test/auth/jwt/jwks.json",
        AUTH_ISSUER: "https://api.example.test/auth",
        DYNAMODB: "http://127.0.0.1:8000",
      }),
    ).toMatchObject({
      auth: {
        kind: "external",
        jwksUri: "https://api.example.test/auth/jwt/jwks.json",
        issuer: "https://api.example.test/auth",
      },
      dynamo: { kind: "endpoint", endpoint: "http://127.0.0.1:8000" },
    });
  });

  it("runs the real SuperTokens backend given a core, with its API key when there is one", () => {
    expect(
      sandboxOptionsFromEnv({ SUPERTOKENS_CONNECTION_URI: "https://try.supertokens.com", SUPERTOKENS_API_KEY: "k" })
        .auth,
    ).toEqual({
      kind: "supertokens",
      connectionUri: "https://try.supertokens.com",
      apiKey: "k",
    });
  });

  it.each([
    [{ PORT: "seventy" }, "PORT", /not a port number/],
    [{ PORT: "70000" }, "PORT", /not a port number/],
    [{ GATEWAY_PORT: "-1" }, "GATEWAY_PORT", /not a port number/],
    [{ DYNAMODB: "postgres" }, "DYNAMODB", /dynalite \(default\), dynamodb-local/],
    [{ AUTH_JWKS_URI: "https://a.test/jwks.json" }, "AUTH_ISSUER", /together with AUTH_JWKS_URI/],
    [{ AUTH_ISSUER: "https://a.test/auth" }, "AUTH_JWKS_URI", /together with AUTH_ISSUER/],
    [
      {
        AUTH_JWKS_URI: "https://a.test/j",
        AUTH_ISSUER: "https://a.test",
        SUPERTOKENS_CONNECTION_URI: "https://c.test",
      },
      "SUPERTOKENS_CONNECTION_URI",
      /choose one issuer/,
    ],
    [{ DEV_TOKEN_TTL_SECONDS: "1.5" }, "DEV_TOKEN_TTL_SECONDS", /whole number/],
    [{ LOG_LEVEL: "loud" }, "LOG_LEVEL", /debug, info, warn, error/],
    [{ TOKEN_TRANSPORT: "cookie" }, "TOKEN_TRANSPORT", /query or subprotocol/],
    [{ FANOUT_WORKERS: "0" }, "FANOUT_WORKERS", /whole number from 1/],
    [{ FANOUT_WORKERS: "two" }, "FANOUT_WORKERS", /whole number from 1/],
  ])("refuses %o, naming %s", (env, setting, problem) => {
    let error: unknown;
    try {
      sandboxOptionsFromEnv(env);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as ConfigurationError).setting).toBe(setting);
    expect((error as Error).message).toMatch(problem);
  });
});
