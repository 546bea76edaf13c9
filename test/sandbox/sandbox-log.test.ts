import { describe, expect, it } from "vitest";
import type { ConnectionInfo } from "../../sandbox/connection-registry.js";
import { SandboxLog } from "../../sandbox/sandbox-log.js";

const connection: ConnectionInfo = {
  connectionId: "Jy2gjcBVIAMCFNQ=",
  principalId: "dev-1",
  authorizer: { principalId: "dev-1", userId: "dev-1", name: "alice" },
  connectedAt: 0,
  lastActiveAt: 0,
  sourceIp: "127.0.0.1",
  userAgent: undefined,
  state: "open",
};

function capture(level?: "debug" | "info" | "warn") {
  const lines: string[] = [];
  const log = new SandboxLog({ sink: (line) => lines.push(line), level, clock: () => Date.UTC(2026, 0, 1, 12, 0, 0) });
  return { log, lines };
}

describe("the readable log", () => {
  it("writes one line per connect, refusal (with the authorizer's reason), message and disconnect", () => {
    const { log, lines } = capture();
    log.connected(connection);
    log.handlerLogger.info("connect authorized", { connectionId: "X", userId: "dev-2" });
    log.handlerLogger.warn("connect refused", { connectionId: "X", reason: "expired" });
    log.refused("X", 401, "unauthorized");
    log.refused("Y", 401, "no token");
    log.handlerLogger.info("message broadcast", {
      messageId: "01H",
      userId: "dev-1",
      delivered: 3,
      gone: 1,
      failed: 0,
      retries: 0,
      expired: 0,
    });
    log.handlerLogger.info("request refused", { connectionId: connection.connectionId, code: "invalid_json" });
    log.disconnected(connection, { code: 1000, reason: "", cause: "client" });

    expect(lines.map((line) => line.replace(/^\d\d:\d\d:\d\d {2}/, ""))).toEqual([
      "connect     alice (dev-1)  conn Jy2gjcBVIAMCFNQ=  from 127.0.0.1",
      "refused     401 expired  conn X",
      "refused     401 no token  conn Y",
      "message     from dev-1  id 01H: delivered 3, gone 1",
      "bad frame   invalid_json to conn Jy2gjcBVIAMCFNQ=",
      "disconnect  alice (dev-1)  conn Jy2gjcBVIAMCFNQ=  1000 (client)",
    ]);
  });

  it("shows only known fields of other handler lines, and masks anything shaped like a JWT", () => {
    const { log, lines } = capture();
    const jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl";
    log.handlerLogger.error("message handling failed", {
      connectionId: "X",
      token: jwt,
      error: new Error(`bad token ${jwt}`),
    });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain("ERROR");
    expect(lines[0]).toContain("connectionId=X");
    expect(lines[0]).toContain("bad token <token>");
    expect(lines[0]).not.toContain("eyJ");
  });

  it("writes a line per fan-out batch and says how much of a broadcast went to the workers", () => {
    const { log, lines } = capture();
    log.handlerLogger.info("message broadcast", {
      room: "design",
      messageId: "000000000007",
      userId: "dev-1",
      delivered: 2,
      gone: 0,
      queued: 5,
      batchesQueued: 3,
    });
    log.handlerLogger.info("fan-out batch sent", { messageId: "b-1", delivered: 1, gone: 1, failed: 0 });
    log.workerFailed("b-2", new Error("worker crashed"));
    log.deadLettered("b-2", 3);
    expect(lines.map((line) => line.replace(/^\d\d:\d\d:\d\d {2}/, ""))).toEqual([
      "message     from dev-1  room design  id 000000000007: delivered 2, queued 5, batchesQueued 3",
      "fan-out     batch b-1: delivered 1, gone 1",
      "ERROR       fan-out worker failed  batch b-2: Error: worker crashed",
      "WARN        fan-out batch b-2 given up after 3 receives (dead-letter queue)",
    ]);
  });

  it("hands the handlers' raw JSON lines to handlerSink as well", () => {
    const raw: string[] = [];
    const log = new SandboxLog({ sink: () => {}, handlerSink: (line) => raw.push(line) });
    log.handlerLogger.info("joined", { room: "lobby", userId: "dev-1" });
    expect(raw.map((line) => JSON.parse(line))).toEqual([
      expect.objectContaining({ level: "info", message: "joined", room: "lobby", userId: "dev-1" }),
    ]);
  });

  it("hides routine lines at warn, and shows every handler line at debug", () => {
    const quiet = capture("warn");
    quiet.log.connected(connection);
    quiet.log.handlerLogger.info("message broadcast", { delivered: 1 });
    expect(quiet.lines).toEqual([]);

    const loud = capture("debug");
    loud.log.handlerLogger.info("connected", { connectionId: "X", userId: "dev-1" });
    expect(loud.lines[0]).toMatch(/handler +connected connectionId=X userId=dev-1/);
  });
});
