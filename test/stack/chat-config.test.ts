import { describe, expect, it } from "vitest";
import { ConfigurationError } from "../../core/errors.js";
import type { FanoutBatch } from "../../core/fanout-queue.js";
import { Limits, type MessageFrame } from "../../core/protocol.js";
import { MAX_FANOUT_BATCH_SIZE, resolveChatConfig } from "../../lib/chat-config.js";
import {
  API_KEY_PARAMETER,
  CONNECTION_URI,
  DEMO_CORE_CONTEXT,
  ISSUER,
  JWKS_URI,
  SUPERTOKENS_CONTEXT,
  VALID_CONTEXT,
} from "./contexts.js";

const EXTERNAL_EXAMPLE = "-c jwksUri=https://api.example.com/auth/jwt/jwks.json -c issuer=https://api.example.com/auth";
const DEPLOY_EXAMPLE =
  "-c supertokensConnectionUri=https://core.example.com -c supertokensApiKeyParameter=/chat/supertokens-api-key";
const DEMO_EXAMPLE = "-c supertokensConnectionUri=https://try.supertokens.com -c allowCoreWithoutApiKey=true";

const resolve = (context: Record<string, unknown>) => resolveChatConfig((key) => context[key]);

/** The error `resolve` throws, checked to name `setting` and show an example. */
function configError(context: Record<string, unknown>, setting: string, example = EXTERNAL_EXAMPLE) {
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
  expect(error.message).toContain(`(for example: cdk deploy ${example}`);
  return error;
}

describe("resolveChatConfig: where tokens come from", () => {
  it("deploys the SuperTokens backend for a core URL, with the name of the core's API key parameter", () => {
    expect(resolve(SUPERTOKENS_CONTEXT)).toMatchObject({
      auth: { kind: "supertokens", connectionUri: CONNECTION_URI, apiKeyParameter: API_KEY_PARAMETER },
      warnings: [],
    });
    const several = "https://core-1.example.com;https://core-2.example.com";
    expect(resolve({ ...SUPERTOKENS_CONTEXT, supertokensConnectionUri: several }).auth).toMatchObject({
      connectionUri: several,
    });
  });

  it("refuses a core without an API key, where anyone could sign in as anyone, unless told it is a try", () => {
    const { message } = configError(
      { supertokensConnectionUri: CONNECTION_URI },
      "supertokensApiKeyParameter",
      DEPLOY_EXAMPLE,
    );
    expect(message).toContain("lets anyone who can reach it create a session for any user");
    expect(message).toContain(`, or cdk deploy ${DEMO_EXAMPLE})`);
    const demo = resolve(DEMO_CORE_CONTEXT);
    expect(demo.auth).toEqual({ kind: "supertokens", connectionUri: CONNECTION_URI });
    expect(demo.warnings).toEqual([
      expect.stringContaining("anyone who can reach it can sign in to this chat as anyone"),
    ]);
    configError({ ...DEMO_CORE_CONTEXT, allowCoreWithoutApiKey: "yes" }, "allowCoreWithoutApiKey");
    configError(
      { ...DEMO_CORE_CONTEXT, allowCoreWithoutApiKey: "false" },
      "supertokensApiKeyParameter",
      DEPLOY_EXAMPLE,
    );
  });

  it("accepts an existing SuperTokens backend's JWKS URL and issuer, with every other setting at its default", () => {
    expect(resolve(VALID_CONTEXT)).toEqual({
      auth: { kind: "external", jwksUri: JWKS_URI, issuer: ISSUER },
      appName: "Chat",
      tokenTransport: "query",
      rateLimit: { burst: Limits.defaultMessageBurst, perSecond: Limits.defaultMessagesPerSecond },
      fanoutBatchSize: 1000,
      fanoutMaxWorkers: 3,
      historyDays: Limits.defaultHistoryDays,
      stageName: undefined,
      stageThrottle: { rateLimit: 100, burstLimit: 200 },
      apiGatewayCloudWatchRole: true,
      warnings: [],
    });
  });

  it("explains both modes when neither is set", () => {
    for (const context of [{}, { supertokensConnectionUri: " " }]) {
      const { message } = configError(context, "supertokensConnectionUri", DEMO_EXAMPLE);
      expect(message).toMatch(/^supertokensConnectionUri or jwksUri and issuer must be set/);
      expect(message).toContain("deploys the SuperTokens backend");
      expect(message).toContain("-c jwksUri=<...>/auth/jwt/jwks.json -c issuer=<...>/auth uses your existing");
    }
  });

  it("refuses both modes at once", () => {
    const { message } = configError(
      { ...SUPERTOKENS_CONTEXT, issuer: ISSUER },
      "supertokensConnectionUri",
      DEPLOY_EXAMPLE,
    );
    expect(message).toContain("cannot be combined with issuer; choose one");
  });

  it("refuses an API key parameter without a core, and one that is not a parameter name", () => {
    configError(
      { ...VALID_CONTEXT, supertokensApiKeyParameter: API_KEY_PARAMETER },
      "supertokensApiKeyParameter",
      DEPLOY_EXAMPLE,
    );
    const bad = { ...SUPERTOKENS_CONTEXT, supertokensApiKeyParameter: "my key" };
    expect(configError(bad, "supertokensApiKeyParameter", DEPLOY_EXAMPLE).message).toContain("SSM parameter");
  });

  it("refuses a core URL that is not https", () => {
    const message = configError(
      { supertokensConnectionUri: "http://core.example.com" },
      "supertokensConnectionUri",
      DEPLOY_EXAMPLE,
    ).message;
    expect(message).toContain("must be an https:// URL");
    configError({ supertokensConnectionUri: `${CONNECTION_URI};core` }, "supertokensConnectionUri", DEPLOY_EXAMPLE);
  });

  it("names the missing half of jwksUri and issuer", () => {
    expect(configError({ issuer: ISSUER }, "jwksUri").message).toContain("is not set (jwksUri and issuer go together)");
    configError({ jwksUri: "  ", issuer: ISSUER }, "jwksUri");
    configError({ jwksUri: JWKS_URI }, "issuer");
  });

  it("refuses a JWKS or issuer that is not an https URL", () => {
    expect(configError({ ...VALID_CONTEXT, jwksUri: "api.example.com/jwks" }, "jwksUri").message).toContain(
      "is not a URL",
    );
    expect(configError({ ...VALID_CONTEXT, issuer: "http://api.example.com/auth" }, "issuer").message).toContain(
      "must be an https:// URL",
    );
  });

  it("refuses an issuer that cannot equal SuperTokens' iss claim, and says what it should be", () => {
    for (const issuer of [`${ISSUER}/`, "https://API.example.com/auth", "https://api.example.com:443/auth"]) {
      expect(configError({ ...VALID_CONTEXT, issuer }, "issuer").message).toContain(`: ${ISSUER} (`);
    }
  });

  it("warns, without failing, when the JWKS is not where SuperTokens serves it", () => {
    const config = resolve({ ...VALID_CONTEXT, jwksUri: "https://keys.example.com/jwks.json" });
    expect(config.warnings).toEqual([`jwksUri is not ${ISSUER}/jwt/jwks.json, where SuperTokens serves its keys`]);
  });
});

describe("resolveChatConfig: other settings", () => {
  it("reads strings trimmed, and -c numbers and booleans as strings", () => {
    const config = resolve({
      ...VALID_CONTEXT,
      stageName: " beta ",
      appName: "Team chat",
      apiGatewayCloudWatchRole: "false",
      tokenTransport: "subprotocol",
      messageBurst: "20",
      messagesPerSecond: "0.5",
      fanoutBatchSize: "250",
      historyDays: "7",
    });
    expect(config).toMatchObject({
      stageName: "beta",
      appName: "Team chat",
      apiGatewayCloudWatchRole: false,
      tokenTransport: "subprotocol",
      rateLimit: { burst: 20, perSecond: 0.5 },
      fanoutBatchSize: 250,
      historyDays: 7,
    });
    expect(
      resolve({ ...VALID_CONTEXT, messageBurst: 5, apiGatewayCloudWatchRole: false, historyDays: 365 }),
    ).toMatchObject({ rateLimit: { burst: 5 }, apiGatewayCloudWatchRole: false, historyDays: 365 });
  });

  it("refuses a token transport it does not know, listing the ones it does", () => {
    const { message } = configError(
      { ...VALID_CONTEXT, tokenTransport: "header" },
      "tokenTransport",
      "-c tokenTransport=subprotocol",
    );
    expect(message).toContain('must be query or subprotocol, got "header"');
  });

  it("refuses rate limits that are not positive, and a burst that is not whole", () => {
    for (const messagesPerSecond of ["0", "-1", "fast", true]) {
      configError({ ...VALID_CONTEXT, messagesPerSecond }, "messagesPerSecond", "-c messagesPerSecond=2");
    }
    for (const messageBurst of ["0", "2.5", "many"]) {
      configError({ ...VALID_CONTEXT, messageBurst }, "messageBurst", "-c messageBurst=10");
    }
  });

  it("refuses a fan-out batch size outside 1 to 1500 (one SQS message per batch)", () => {
    for (const fanoutBatchSize of ["0", "1501", "1.5"]) {
      const { message } = configError(
        { ...VALID_CONTEXT, fanoutBatchSize },
        "fanoutBatchSize",
        "-c fanoutBatchSize=1000",
      );
      expect(message).toContain("a whole number from 1 to 1500");
    }
    expect(resolve({ ...VALID_CONTEXT, fanoutBatchSize: 1500 }).fanoutBatchSize).toBe(1500);
  });

  it("lets the largest batch, with the longest frame and long ids, fit one SQS message of 256 KiB", () => {
    // Control characters are the costliest text: each is `\u0001` in the frame, then escaped again in the batch.
    const frame: MessageFrame = {
      type: "message",
      room: "r".repeat(32),
      id: "000000000001",
      sender: { userId: "u".repeat(64), name: "n".repeat(64) },
      text: "\u0001".repeat(Limits.maxTextLength),
      sentAt: new Date(0).toISOString(),
    };
    const batch: FanoutBatch = {
      data: JSON.stringify(frame),
      recipients: Array.from({ length: MAX_FANOUT_BATCH_SIZE }, (_, i) => ({
        connectionId: `${i}`.padStart(16, "C"),
        expiresAt: 1_795_935_600,
        userId: "u".repeat(64),
      })),
      expiredAt: 1_795_935_600,
      room: frame.room,
    };
    expect(Buffer.byteLength(JSON.stringify(batch))).toBeLessThanOrEqual(256 * 1024);
  });

  it("runs at most 3 fan-out workers at once unless fanoutMaxWorkers, 2 to 1000 as SQS allows, says otherwise", () => {
    expect(resolve(VALID_CONTEXT).fanoutMaxWorkers).toBe(3);
    expect(resolve({ ...VALID_CONTEXT, fanoutMaxWorkers: "40" }).fanoutMaxWorkers).toBe(40);
    for (const fanoutMaxWorkers of ["1", "1001", "2.5", "many"]) {
      const { message } = configError(
        { ...VALID_CONTEXT, fanoutMaxWorkers },
        "fanoutMaxWorkers",
        "-c fanoutMaxWorkers=3",
      );
      expect(message).toContain("a whole number from 2 to 1000");
    }
  });

  it("throttles each route at 100 requests/s, burst 200, unless stageRateLimit/stageBurstLimit say otherwise", () => {
    expect(resolve({ ...VALID_CONTEXT, stageRateLimit: "2000", stageBurstLimit: 4000 }).stageThrottle).toEqual({
      rateLimit: 2000,
      burstLimit: 4000,
    });
    for (const stageRateLimit of ["0", "10001", "1.5", "fast"]) {
      const { message } = configError({ ...VALID_CONTEXT, stageRateLimit }, "stageRateLimit", "-c stageRateLimit=100");
      expect(message).toContain("a whole number from 1 to 10000");
    }
    const { message } = configError(
      { ...VALID_CONTEXT, stageBurstLimit: "5001" },
      "stageBurstLimit",
      "-c stageBurstLimit=200",
    );
    expect(message).toContain("a whole number from 1 to 5000");
  });

  it("keeps history for 30 days unless historyDays, a whole number of days from 1, says otherwise", () => {
    expect(Limits.defaultHistoryDays).toBe(30);
    expect(resolve({ ...VALID_CONTEXT, historyDays: " " }).historyDays).toBe(30);
    expect(resolve({ ...VALID_CONTEXT, historyDays: "1" }).historyDays).toBe(1);
    for (const historyDays of ["0", "-7", "1.5", "a month", true, 0]) {
      const { message } = configError({ ...VALID_CONTEXT, historyDays }, "historyDays", "-c historyDays=30");
      expect(message).toMatch(/^historyDays must be a whole number, 1 or more, got /);
    }
  });

  it("refuses settings of the wrong type", () => {
    configError({ ...VALID_CONTEXT, jwksUri: 42 }, "jwksUri");
    expect(() => resolve({ ...VALID_CONTEXT, apiGatewayCloudWatchRole: "no" })).toThrow(
      /^apiGatewayCloudWatchRole must be true or false/,
    );
  });
});
