import { readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { App, Stack } from "aws-cdk-lib";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SuperTokensEnvVar } from "../../core/supertokens-backend.js";
import { ChatAuthApi } from "../../lib/chat-auth-api.js";
import { type StandIn, signInEvent, standIn, superTokensCore } from "./stand-ins.js";

type Handler = (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;

// Inside the project, so that the bundle's external `@aws-sdk/*` imports resolve as the Lambda runtime provides them.
const OUT = fileURLToPath(new URL("../../node_modules/.cache/chat-auth-api-bundle", import.meta.url));
const API_KEY = "fake-api-key-bundle";

/**
 * The auth function exactly as the stack ships it (ChatAuthApi's esbuild bundle, ESM with the require shim),
 * run in this process against a stand-in SSM endpoint and a stand-in SuperTokens core.
 */
describe("auth API bundle", () => {
  let bundle: string;
  let core: StandIn;
  let ssm: StandIn;
  let saved: NodeJS.ProcessEnv;

  beforeAll(async () => {
    rmSync(OUT, { recursive: true, force: true });
    // CDK's built-in CloudFormation schema check loads every resource schema: seconds of CPU for one function.
    const app = new App({ outdir: OUT, builtinCloudFormationValidation: false });
    const api = new ChatAuthApi(new Stack(app, "Bundle"), "Auth", { connectionUri: "https://unused.example.com" });
    api.setSiteOrigin("https://unused.example.com");
    const assembly = app.synth();
    const template = assembly.getStackByName("Bundle").template;
    const fn = Object.values<{ Type: string; Properties: { Code: { S3Key: string } } }>(template.Resources).find(
      (r) => r.Type === "AWS::Lambda::Function",
    );
    bundle = join(assembly.directory, `asset.${fn?.Properties.Code.S3Key.replace(/\.zip$/, "")}`, "index.mjs");

    core = await superTokensCore();
    // SSM's JSON protocol: the operation in X-Amz-Target, the answer a JSON object.
    ssm = await standIn(({ body }) => ({
      Parameters: (JSON.parse(body).Names as string[]).map((Name) => ({
        Name,
        Type: Name.includes("key") ? "SecureString" : "String",
        Value: Name.includes("key") ? API_KEY : "https://d111111abcdef8.cloudfront.net",
      })),
      InvalidParameters: [],
    }));
    saved = { ...process.env };
    Object.assign(process.env, {
      AWS_REGION: "eu-west-1",
      AWS_ACCESS_KEY_ID: "test",
      AWS_SECRET_ACCESS_KEY: "test",
      AWS_ENDPOINT_URL_SSM: ssm.url,
      [SuperTokensEnvVar.ConnectionUri]: core.url,
      [SuperTokensEnvVar.SiteOriginParameter]: "/Bundle/site-origin",
      [SuperTokensEnvVar.ApiKeyParameter]: "/chat/api-key",
    });
  }, 120_000);

  afterAll(async () => {
    process.env = saved;
    await Promise.all([core?.close(), ssm?.close()]);
  });

  it("is one ESM file of about a megabyte, with the require shim and a source map without the sources", () => {
    const size = statSync(bundle).size;
    expect(size).toBeGreaterThan(200_000);
    expect(size).toBeLessThan(2_500_000);
    expect(readFileSync(bundle, "utf8")).toMatch(/^import \{ createRequire as /);
    const map = JSON.parse(readFileSync(`${bundle}.map`, "utf8")) as { sources: string[]; sourcesContent?: unknown };
    expect(map.sources).toContainEqual(expect.stringMatching(/lambdas\/auth-api\.ts$/));
    expect(map.sourcesContent).toBeUndefined();
    // supertokens-node is bundled; the AWS SDK comes with the Lambda runtime. Sources are relative to the bundle,
    // which is written inside node_modules here: `../../../supertokens-node/...`.
    const uses = (pkg: string) => map.sources.some((file) => file.split("/").includes(pkg));
    expect(uses("supertokens-node")).toBe(true);
    expect(uses("@aws-sdk")).toBe(false);
  });

  it("loads, reads its settings from SSM, and signs in through the core with the API key", async () => {
    const { handler } = (await import(pathToFileURL(bundle).href)) as { handler: Handler };
    const response = await handler(signInEvent(), {} as Context);
    expect(response.statusCode).toBe(200);
    expect(JSON.parse(response.body ?? "")).toEqual({ status: "WRONG_CREDENTIALS_ERROR" });
    expect(ssm.requests).toHaveLength(1);
    expect(ssm.requests[0]?.headers["x-amz-target"]).toBe("AmazonSSM.GetParameters");
    expect(JSON.parse(ssm.requests[0]?.body ?? "")).toEqual({
      Names: ["/Bundle/site-origin", "/chat/api-key"],
      WithDecryption: true,
    });
    expect(core.requests.length).toBeGreaterThan(0);
    for (const request of core.requests) expect(request.headers["api-key"]).toBe(API_KEY);
  });
});
