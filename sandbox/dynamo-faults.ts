import { Agent, createServer, request, type Server } from "node:http";
import { setTimeout as delay } from "node:timers/promises";
import { type CountedRule, FaultRules } from "./fault-rules.js";
import { closeServer, listenOn } from "./server-lifecycle.js";
import { urlHost } from "./url-host.js";

/** Errors DynamoDB answers with when it is overloaded or failing; the SDK retries the first two. */
export type DynamoFaultError = "ProvisionedThroughputExceededException" | "ThrottlingException" | "InternalServerError";

export interface DynamoFaultRule extends CountedRule {
  /** API operations the rule applies to (`PutItem`, `Scan`, ...). @default every operation */
  operations?: readonly string[];
  /** @default - none: the call is only delayed, then passed on */
  error?: DynamoFaultError;
  /** Wait this long before answering or passing the call on. @default 0 */
  delayMs?: number;
}

const ERRORS: Record<DynamoFaultError, { status: number; type: string; message: string }> = {
  ProvisionedThroughputExceededException: {
    status: 400,
    type: "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
    message: "The level of configured provisioned throughput for the table was exceeded.",
  },
  ThrottlingException: {
    status: 400,
    type: "com.amazon.coral.availability#ThrottlingException",
    message: "Rate of requests exceeds the allowed throughput.",
  },
  InternalServerError: {
    status: 500,
    type: "com.amazonaws.dynamodb.v20120810#InternalServerError",
    message: "Internal server error",
  },
};

/** Faults a DynamoDB fault proxy injects, by operation. */
export class DynamoFaults {
  private readonly rules = new FaultRules<DynamoFaultRule, string>(
    (rule, operation) => !rule.operations || rule.operations.includes(operation),
  );

  /** Adds a rule; returns a function that removes it. */
  add(rule: DynamoFaultRule): () => void {
    return this.rules.add(rule);
  }

  clear(): void {
    this.rules.clear();
  }

  take(operation: string): DynamoFaultRule | undefined {
    return this.rules.take(operation);
  }
}

export interface DynamoFaultProxy {
  /** Give this to the handlers instead of the real endpoint. */
  endpoint: string;
  faults: DynamoFaults;
  close(): Promise<void>;
}

/**
 * A DynamoDB endpoint that passes every call on to `target`, except the ones a fault rule picks: those are answered
 * with the error DynamoDB would send (or delayed), so throttling reaches the handlers through the real SDK, with its
 * own retries, rather than through a mock.
 */
export async function startDynamoFaultProxy(target: string, host: string): Promise<DynamoFaultProxy> {
  const faults = new DynamoFaults();
  const upstream = new URL(target);
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const server: Server = createServer((req, res) => {
    // `X-Amz-Target: DynamoDB_20120810.PutItem`
    const operation = String(req.headers["x-amz-target"] ?? "").split(".")[1] ?? "";
    const fault = faults.take(operation);
    void (async () => {
      if (fault?.delayMs) await delay(fault.delayMs);
      if (fault?.error) {
        const { status, type, message } = ERRORS[fault.error];
        req.resume();
        const body = JSON.stringify({ __type: type, message });
        res.writeHead(status, {
          "Content-Type": "application/x-amz-json-1.0",
          "Content-Length": Buffer.byteLength(body),
        });
        res.end(body);
        return;
      }
      const forward = request(
        {
          host: upstream.hostname.replace(/^\[|\]$/g, ""), // an IPv6 URL host carries brackets; a socket address does not
          port: upstream.port,
          method: req.method,
          path: req.url,
          headers: req.headers,
          agent,
        },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      forward.on("error", () => res.destroy());
      req.pipe(forward);
    })();
  });
  server.keepAliveTimeout = 0;
  const port = await listenOn(server, 0, host);
  return {
    endpoint: `http://${urlHost(host)}:${port}`,
    faults,
    close: () => {
      agent.destroy();
      return closeServer(server);
    },
  };
}
