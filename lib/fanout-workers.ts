import { fileURLToPath } from "node:url";
import { Duration } from "aws-cdk-lib";
import { Alarm, ComparisonOperator, TreatMissingData } from "aws-cdk-lib/aws-cloudwatch";
import type { Grant, IGrantable } from "aws-cdk-lib/aws-iam";
import { SqsEventSource } from "aws-cdk-lib/aws-lambda-event-sources";
import { Queue, QueueEncryption } from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { ChatFunction } from "./chat-function.js";

/** Workers sending at once unless the stack says otherwise; see `FanoutWorkersProps.maxConcurrency`. */
export const DEFAULT_MAX_WORKERS = 3;

/** Receives of a batch before it goes to the dead-letter queue. */
export const MAX_RECEIVE_COUNT = 3;

/** Properties of `FanoutWorkers`. */
export interface FanoutWorkersProps {
  /**
   * The worker's environment: what it needs to send and to clean up after gone connections (the tables, the
   * `CALLBACK_URL`). The queue's own URL is not known until the queue exists: add it with `addEnvironment`.
   */
  readonly environment: Record<string, string>;

  /**
   * Longest run of one worker invocation. The queue's visibility timeout is six times this, as AWS advises for
   * Lambda consumers, so a batch is not handed to a second worker while the first still sends it.
   *
   * @default Duration.seconds(60)
   */
  readonly timeout?: Duration;

  /**
   * Queue messages (each a batch of recipients) per invocation, 1 to 10. One lets every batch have its own worker,
   * in parallel; more saves invocations but sends the batches of one invocation one after another.
   *
   * @default 1
   */
  readonly batchSize?: number;

  /**
   * Workers sending at once (the event source's maximum concurrency, 2 to 1,000). Every `@connections` call counts
   * against the account's API Gateway throttle (10,000 requests/s per Region, shared with every client's messages
   * and connects). A 512 MB worker sends roughly 2,500 a second (docs/PERFORMANCE.md), so the default's 7,500 leave
   * room in the throttle for the clients. Raise it with the account's quota.
   *
   * @default 3
   */
  readonly maxConcurrency?: number;

  /**
   * How long the dead-letter queue keeps a batch, 1 minute to 14 days. Batches hold the message text: keep them no
   * longer than the rooms keep their history.
   *
   * @default Duration.days(14)
   */
  readonly deadLetterRetention?: Duration;
}

/**
 * The fan-out workers of large broadcasts: an encrypted SQS queue of recipient batches (with a dead-letter queue
 * after `MAX_RECEIVE_COUNT` receives) and the Lambda that sends them (`lambdas/fanout-worker.ts`). Failed batches are
 * reported one by one, so one bad batch does not resend the others.
 */
export class FanoutWorkers extends Construct {
  readonly queue: Queue;
  readonly deadLetterQueue: Queue;
  /**
   * In alarm while the dead-letter queue holds a batch: a broadcast that some members never got. It has no action;
   * add one (`deadLetterAlarm.addAlarmAction(new SnsAction(topic))`) to be told.
   */
  readonly deadLetterAlarm: Alarm;
  readonly worker: ChatFunction;

  constructor(scope: Construct, id: string, props: FanoutWorkersProps) {
    super(scope, id);
    const batchSize = props.batchSize ?? 1;
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10) {
      throw new Error(`batchSize must be a whole number from 1 to 10, got ${batchSize}`);
    }
    const maxConcurrency = props.maxConcurrency ?? DEFAULT_MAX_WORKERS;
    if (!Number.isInteger(maxConcurrency) || maxConcurrency < 2 || maxConcurrency > 1000) {
      throw new Error(`maxConcurrency must be a whole number from 2 to 1000, got ${maxConcurrency}`);
    }
    const timeout = props.timeout ?? Duration.seconds(60);

    this.worker = new ChatFunction(this, "Worker", {
      entry: fileURLToPath(new URL("../lambdas/fanout-worker.ts", import.meta.url)),
      description: "Chat: sends one batch of a large broadcast",
      memorySize: 512,
      timeout,
      environment: props.environment,
    });
    const queueDefaults = { encryption: QueueEncryption.SQS_MANAGED, enforceSSL: true };
    this.deadLetterQueue = new Queue(this, "DeadLetters", {
      ...queueDefaults,
      retentionPeriod: props.deadLetterRetention ?? Duration.days(14),
    });
    this.deadLetterAlarm = new Alarm(this, "DeadLettersAlarm", {
      alarmDescription: "Fan-out batches that failed every receive: some members did not get a broadcast",
      metric: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5) }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    this.queue = new Queue(this, "Queue", {
      ...queueDefaults,
      visibilityTimeout: Duration.seconds(timeout.toSeconds() * 6),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: MAX_RECEIVE_COUNT },
    });
    this.worker.function.addEventSource(
      new SqsEventSource(this.queue, { batchSize, maxConcurrency, reportBatchItemFailures: true }),
    );
  }

  /**
   * Lets `grantee` hand batches to the workers: `sqs:SendMessage` and nothing else (senders know the queue's URL, so
   * they need neither `GetQueueUrl` nor `GetQueueAttributes`; the queue's SQS-managed encryption needs no KMS grant).
   */
  grantEnqueue(grantee: IGrantable): Grant {
    return this.queue.grant(grantee, "sqs:SendMessage");
  }
}
