import type { SQSEvent } from "aws-lambda";
import { createFanoutWorkerHandler } from "../core/handlers/fanout-worker.js";
import { Logger } from "../core/logger.js";
import { createManagementConnections } from "../core/management-client.js";
import type { ServiceMethods } from "./child-protocol.js";

export interface WorkerServiceOptions {
  managementEndpoint: string;
}

export interface WorkerBatchResult {
  delivered: number;
  failed: number;
}

/**
 * The `fanout-worker` child service: one fan-out worker Lambda, the real handler (`createFanoutWorkerHandler`) with
 * the management client Lambda builds, fed SQS events of one record each. No chat service is needed: the stub never
 * answers 410, so nothing is ever forgotten.
 */
export async function serve({ managementEndpoint }: WorkerServiceOptions): Promise<ServiceMethods> {
  let delivered = 0;
  let failed = 0;
  const logger = new Logger({
    level: "info",
    sink: (line) => {
      const entry = JSON.parse(line) as { message?: string; delivered?: number; failed?: number };
      if (entry.message === "fan-out batch sent") {
        delivered += entry.delivered ?? 0;
        failed += entry.failed ?? 0;
      }
    },
  });
  const handler = createFanoutWorkerHandler({
    chat: { forgetGone: async () => {} },
    connections: createManagementConnections({ endpoint: managementEndpoint }),
    logger,
  });
  let cpuFrom = process.cpuUsage();
  return {
    /** Starts counting this worker's CPU time from now. */
    resetCpu: async () => {
      cpuFrom = process.cpuUsage();
    },
    /** CPU seconds since `resetCpu`. */
    cpu: async () => {
      const used = process.cpuUsage(cpuFrom);
      return (used.user + used.system) / 1e6;
    },
    /** Sends one batch; answers with what it delivered. */
    handle: async ({ messageId, body }: { messageId: string; body: string }): Promise<WorkerBatchResult> => {
      const before = { delivered, failed };
      const { batchItemFailures } = await handler(sqsEvent(messageId, body));
      if (batchItemFailures.length > 0) throw new Error(`batch ${messageId} failed`);
      return { delivered: delivered - before.delivered, failed: failed - before.failed };
    },
  };
}

/** An SQS event with one record, as the Lambda event source delivers it (batch size 1). */
function sqsEvent(messageId: string, body: string): SQSEvent {
  return {
    Records: [
      {
        messageId,
        receiptHandle: messageId,
        body,
        attributes: {
          ApproximateReceiveCount: "1",
          SentTimestamp: String(Date.now()),
          SenderId: "bench",
          ApproximateFirstReceiveTimestamp: String(Date.now()),
        },
        messageAttributes: {},
        md5OfBody: "",
        eventSource: "aws:sqs",
        eventSourceARN: "arn:aws:sqs:local:000000000000:bench-fanout",
        awsRegion: "local",
      },
    ],
  };
}
