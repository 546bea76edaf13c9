import { DescribeTableCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectionTableCreateInput } from "../../core/connection-table.js";
import type { MessageFrame } from "../../core/protocol.js";
import type { DynamoOptions } from "../../sandbox/dynamo.js";
import { PAST_CONNECT_GRACE_MS, testClock } from "../support/clock.js";
import {
  connectAs,
  connectionIdOf,
  connectionRecords,
  flushDeliveries,
  signIn,
  startTestSandbox,
  type TestSandbox,
} from "../support/sandbox.js";
import { refusedStatus } from "../support/ws-client.js";

// The same chat against both embedded stores. DynamoDB Local is AWS's own emulator (Java): it checks expressions
// the way DynamoDB does, so a query dynalite lets through but DynamoDB refuses shows up here.
describe.each<DynamoOptions>([{ kind: "dynalite" }, { kind: "dynamodb-local" }])("store: $kind", (dynamo) => {
  let sandbox: TestSandbox;
  const time = testClock();
  beforeAll(async () => {
    sandbox = await startTestSandbox({ dynamo, clock: time.clock });
  }, 60_000);
  afterAll(() => sandbox?.close());

  it("creates the table from the stack's definition", async () => {
    const client = new DynamoDBClient({
      endpoint: sandbox.dynamo.endpoint,
      region: "local",
      credentials: { accessKeyId: "local", secretAccessKey: "local" },
    });
    const { Table } = await client.send(new DescribeTableCommand({ TableName: sandbox.dynamo.tableName }));
    client.destroy();
    const expected = connectionTableCreateInput(sandbox.dynamo.tableName);
    expect(Table?.KeySchema).toEqual(expected.KeySchema);
    expect(Table?.AttributeDefinitions).toEqual(expected.AttributeDefinitions);
  });

  it("records who is connected, chats, and forgets closed and vanished connections", async () => {
    const started = Math.floor(Date.now() / 1000);
    const [ada, bo, cy] = [
      await connectAs(sandbox, "ada"),
      await connectAs(sandbox, "bo"),
      await connectAs(sandbox, "cy"),
    ];
    const [adaId, boId, cyId] = [ada.userId, bo.userId, cy.userId].map((userId) => connectionIdOf(sandbox, userId)) as [
      string,
      string,
      string,
    ];

    const record = (await connectionRecords(sandbox)).find((candidate) => candidate.connectionId === adaId);
    expect(record).toMatchObject({
      userId: ada.userId,
      name: "ada",
      tenantId: "public",
      connectedAt: expect.any(Number),
    });
    expect(record?.expiresAt).toBeGreaterThan(started);
    expect(record?.ttl).toBeGreaterThan(started + 2 * 60 * 60);

    // Two messages from one sender: the rate limiter's conditional writes run too.
    ada.send({ action: "sendmessage", text: "one" });
    await Promise.all([ada, bo, cy].map((client) => client.waitFor((frame) => (frame as MessageFrame).text === "one")));
    ada.send({ action: "sendmessage", text: "two" });
    await Promise.all([ada, bo, cy].map((client) => client.waitFor((frame) => (frame as MessageFrame).text === "two")));
    await flushDeliveries(sandbox, [ada, bo, cy]);
    for (const client of [ada, bo, cy]) {
      expect(
        client
          .framesWhere<MessageFrame>((frame) => (frame as MessageFrame).type === "message")
          .map((frame) => frame.text),
      ).toEqual(["one", "two"]);
    }

    const boEnded = sandbox.hooks.whenEnded(boId);
    await bo.close();
    await boEnded;
    sandbox.hooks.dropConnection(cyId);
    // Past the grace that keeps a young connection answering 410 (it may still be in `$connect`).
    time.advance(PAST_CONNECT_GRACE_MS);
    ada.send({ action: "sendmessage", text: "three" });
    await ada.waitFor((frame) => (frame as MessageFrame).text === "three");
    await sandbox.hooks.idle();

    expect((await connectionRecords(sandbox)).map((candidate) => candidate.connectionId)).toEqual([adaId]);
    await ada.close();
  });
});

describe("DynamoDB faults through the real SDK", () => {
  let sandbox: TestSandbox;
  beforeAll(async () => {
    sandbox = await startTestSandbox({ injectDynamoFaults: true });
  });
  afterAll(() => sandbox.close());

  it("survives a throttled write (the SDK retries) and refuses the connect when DynamoDB keeps failing", async () => {
    const faults = sandbox.hooks.dynamoFaults;
    if (!faults) throw new Error("no DynamoDB fault proxy");
    faults.add({ operations: ["PutItem"], error: "ProvisionedThroughputExceededException", times: 1 });
    const dee = await connectAs(sandbox, "dee");
    expect((await connectionRecords(sandbox)).map((record) => record.userId)).toEqual([dee.userId]);
    expect(faults.take("PutItem")).toBeUndefined(); // the one fault was used up by the first attempt

    // A lasting 500 rather than lasting throttling: same outcome, without the SDK's multi-second throttle backoff.
    faults.add({ operations: ["PutItem"], error: "InternalServerError" });
    const refused = await signIn(sandbox, "eli").then(({ accessToken }) =>
      refusedStatus(sandbox.urls.webSocket, { token: accessToken }),
    );
    expect(refused).toBe(500);
    faults.clear();
    await dee.close();
  });
});
