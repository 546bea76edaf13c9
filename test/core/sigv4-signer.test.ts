import { createHash, createHmac } from "node:crypto";
import { SignatureV4 } from "@smithy/signature-v4";
import { describe, expect, it } from "vitest";
import { type SigningCredentials, SigV4Signer } from "../../core/sigv4-signer.js";

// The SDK's general signer is the reference: a request signed by ours must carry the very signature it computes.

type SourceData = string | ArrayBuffer | ArrayBufferView;
const bytes = (data: SourceData): string | Buffer =>
  typeof data === "string"
    ? data
    : ArrayBuffer.isView(data)
      ? Buffer.from(data.buffer, data.byteOffset, data.byteLength)
      : Buffer.from(data);

class NodeSha256 {
  private readonly hash;
  constructor(secret?: SourceData) {
    this.hash = secret === undefined ? createHash("sha256") : createHmac("sha256", bytes(secret));
  }
  update(data: SourceData): void {
    this.hash.update(bytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
  reset(): void {}
}

async function reference(
  request: { method: string; host: string; path: string; body: string },
  credentials: SigningCredentials,
  region: string,
  date: Date,
) {
  const signer = new SignatureV4({
    service: "execute-api",
    region,
    credentials,
    sha256: NodeSha256,
    applyChecksum: false, // an `x-amz-content-sha256` header is S3's; API Gateway does not need it
  });
  const [hostname, port] = request.host.split(":");
  const signed = await signer.sign(
    {
      method: request.method,
      protocol: "https:",
      hostname: hostname ?? "",
      port: port ? Number(port) : undefined,
      path: request.path,
      query: {},
      headers: { host: request.host, "content-type": "application/json" },
      body: request.body,
    },
    { signingDate: date },
  );
  return signed.headers;
}

const host = "abc123defg.execute-api.eu-west-1.amazonaws.com";
const temporary = {
  accessKeyId: "ASIAEXAMPLE",
  secretAccessKey: "wJalrXUtnFEMI/K7MDENG",
  sessionToken: "FQoGZXIvYXdz//token+",
};

describe("SigV4Signer", () => {
  it.each([
    ["a typical connection id", "L0SM9cOFvHcCIhw="],
    ["an id with + and /", "a+b/c=="],
    ["an id with characters encodeURIComponent leaves alone", "x!y'(z)*"],
    ["a non-ASCII id", "café"],
  ])("signs a PostToConnection with %s exactly as the SDK does", async (_name, connectionId) => {
    const request = {
      method: "POST",
      host,
      path: `/prod/@connections/${encodeURIComponent(connectionId)}`,
      body: JSON.stringify({ type: "message", text: "héllo, wörld" }),
    };
    const date = new Date("2026-11-29T08:41:07.123Z");
    const ours = new SigV4Signer("eu-west-1", "execute-api").sign(
      { ...request, headers: { "content-type": "application/json" } },
      temporary,
      date,
    );
    const theirs = await reference(request, temporary, "eu-west-1", date);
    expect(ours.authorization).toBe(theirs.authorization);
    expect(ours["x-amz-date"]).toBe("20261129T084107Z");
    expect(ours["x-amz-security-token"]).toBe(temporary.sessionToken);
  });

  it("matches the SDK for long-lived credentials (no session token), a port, and an empty body", async () => {
    const credentials = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" };
    const request = { method: "DELETE", host: "127.0.0.1:3001", path: "/prod/@connections/abc%3D", body: "" };
    const date = new Date("2026-01-01T00:00:00Z");
    const ours = new SigV4Signer("local", "execute-api").sign(
      { ...request, headers: { "content-type": "application/json" } },
      credentials,
      date,
    );
    expect(ours.authorization).toBe((await reference(request, credentials, "local", date)).authorization);
    expect(ours).not.toHaveProperty("x-amz-security-token");
  });

  it("derives a new key when the day or the credentials change", async () => {
    const signer = new SigV4Signer("eu-west-1", "execute-api");
    const request = { method: "POST", host, path: "/prod/@connections/abc%3D", body: "{}" };
    const sign = (credentials: SigningCredentials, date: Date) =>
      signer.sign({ ...request, headers: { "content-type": "application/json" } }, credentials, date).authorization;
    const rotated = { ...temporary, secretAccessKey: "rotated" };
    for (const [credentials, date] of [
      [temporary, new Date("2026-11-29T23:59:59Z")],
      [temporary, new Date("2026-11-30T00:00:01Z")],
      [rotated, new Date("2026-11-30T00:00:02Z")],
    ] as const) {
      expect(sign(credentials, date)).toBe((await reference(request, credentials, "eu-west-1", date)).authorization);
    }
  });

  it("stays exact when one signer's requests change their second, credentials, host, headers or path", async () => {
    // The signer reuses what successive requests share: each change below must be seen.
    const signer = new SigV4Signer("eu-west-1", "execute-api");
    const headers = { "content-type": "application/json" };
    const other = { ...temporary, accessKeyId: "ASIAOTHER", sessionToken: "other+token" };
    const steps: [SigningCredentials, string, string, string, Record<string, string>][] = [
      [temporary, "2026-11-29T08:00:00.100Z", host, "/prod/@connections/a%3D", headers],
      [temporary, "2026-11-29T08:00:00.900Z", host, "/prod/@connections/b%2B", headers],
      [temporary, "2026-11-29T08:00:01.000Z", host, "/prod/@connections/b%2B", headers],
      [other, "2026-11-29T08:00:01.000Z", host, "/prod/@connections/b%2B", headers],
      [other, "2026-11-29T08:00:01.000Z", "other.example.com", "/prod/@connections/b%2B", headers],
      [other, "2026-11-29T08:00:01.000Z", "other.example.com", "/prod/@connections/b%2B", { ...headers }],
      [other, "2026-11-29T08:00:01.000Z", host, "/beta/@connections/c", headers],
      [other, "2026-11-29T08:00:01.000Z", host, "/beta/./x/../@connections/c", headers],
      [other, "2026-11-29T08:00:01.000Z", host, "/beta/@connections/..", headers],
      [temporary, "2026-11-29T08:00:01.000Z", host, "/prod/@connections/a%3D", headers],
    ];
    for (const [credentials, at, stepHost, path, stepHeaders] of steps) {
      const date = new Date(at);
      const request = { method: "POST", host: stepHost, path, body: "{}" };
      const ours = signer.sign({ ...request, headers: stepHeaders }, credentials, date);
      expect(ours.authorization, `${at} ${stepHost} ${path}`).toBe(
        (await reference(request, credentials, "eu-west-1", date)).authorization,
      );
    }
  });
});
