import { describe, expect, it } from "vitest";
import { ConfigurationError } from "../../core/errors.js";
import { resolveChatConfig } from "../../lib/chat-config.js";
import { ISSUER, JWKS_URI, VALID_CONTEXT } from "./support.js";

const EXAMPLE = "-c jwksUri=https://api.example.com/auth/jwt/jwks.json -c issuer=https://api.example.com/auth";

const resolve = (context: Record<string, unknown>) => resolveChatConfig((key) => context[key]);

/** The error `resolve` throws, checked to name `setting` and show the example. */
function configError(context: Record<string, unknown>, setting: string): ConfigurationError {
  let caught: unknown;
  try {
    resolve(context);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(ConfigurationError);
  const error = caught as ConfigurationError;
  expect(error.setting).toBe(setting);
  expect(error.message).toMatch(new RegExp(`^${setting} `));
  expect(error.message).toContain(EXAMPLE);
  return error;
}

describe("resolveChatConfig", () => {
  it("accepts an existing SuperTokens backend's JWKS URL and issuer", () => {
    expect(resolve(VALID_CONTEXT)).toEqual({
      auth: { kind: "external", jwksUri: JWKS_URI, issuer: ISSUER },
      stageName: undefined,
      apiGatewayCloudWatchRole: true,
      warnings: [],
    });
  });

  it("reads the optional settings, trimming strings and taking -c booleans as strings", () => {
    const config = resolve({ ...VALID_CONTEXT, stageName: " beta ", apiGatewayCloudWatchRole: "false" });
    expect(config.stageName).toBe("beta");
    expect(config.apiGatewayCloudWatchRole).toBe(false);
    expect(resolve({ ...VALID_CONTEXT, apiGatewayCloudWatchRole: false }).apiGatewayCloudWatchRole).toBe(false);
  });

  it("names a missing jwksUri, and treats blank as missing", () => {
    expect(configError({ issuer: ISSUER }, "jwksUri").message).toContain("is not set");
    configError({ jwksUri: "  ", issuer: ISSUER }, "jwksUri");
    configError({}, "jwksUri");
  });

  it("names a missing issuer", () => {
    configError({ jwksUri: JWKS_URI }, "issuer");
  });

  it("refuses a value that is not a URL", () => {
    expect(configError({ ...VALID_CONTEXT, jwksUri: "api.example.com/jwks" }, "jwksUri").message).toContain(
      "is not a URL",
    );
  });

  it("refuses http:// (the verifier fetches keys over https only)", () => {
    expect(configError({ ...VALID_CONTEXT, issuer: "http://api.example.com/auth" }, "issuer").message).toContain(
      "must be an https:// URL",
    );
    configError({ ...VALID_CONTEXT, jwksUri: "http://api.example.com/auth/jwt/jwks.json" }, "jwksUri");
  });

  it("refuses an issuer that cannot equal SuperTokens' iss claim, and says what it should be", () => {
    for (const issuer of [`${ISSUER}/`, "https://API.example.com/auth", "https://api.example.com:443/auth"]) {
      expect(configError({ ...VALID_CONTEXT, issuer }, "issuer").message).toContain(`: ${ISSUER} (`);
    }
  });

  it("refuses settings of the wrong type", () => {
    configError({ ...VALID_CONTEXT, jwksUri: 42 }, "jwksUri");
    expect(() => resolve({ ...VALID_CONTEXT, apiGatewayCloudWatchRole: "no" })).toThrow(
      /^apiGatewayCloudWatchRole must be true or false/,
    );
  });

  it("warns, without failing, when the JWKS is not where SuperTokens serves it", () => {
    const config = resolve({ ...VALID_CONTEXT, jwksUri: "https://keys.example.com/jwks.json" });
    expect(config.warnings).toEqual([`jwksUri is not ${ISSUER}/jwt/jwks.json, where SuperTokens serves its keys`]);
  });
});
