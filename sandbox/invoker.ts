import type { APIGatewayAuthorizerResult, SQSBatchResponse, SQSEvent } from "aws-lambda";
import type { Clock } from "../core/clock.js";
import type { WebSocketAuthorizerEvent, WebSocketEvent, WebSocketResult } from "../core/websocket-event.js";
import type { InFlight } from "./in-flight.js";

export type AuthorizerHandler = (event: WebSocketAuthorizerEvent) => Promise<APIGatewayAuthorizerResult>;
export type RouteHandler = (event: WebSocketEvent) => Promise<WebSocketResult>;
/** A Lambda with an SQS event source that reports failed records one by one (`reportBatchItemFailures`). */
export type QueueHandler = (event: SQSEvent) => Promise<SQSBatchResponse>;

/** One handler call as the sandbox made it: what went in and what came out. */
export type Invocation =
  | { handler: "authorizer"; event: WebSocketAuthorizerEvent; durationMs: number; outcome: Outcome<unknown> }
  | { handler: "route"; routeKey: string; event: WebSocketEvent; durationMs: number; outcome: Outcome<unknown> }
  /** A fan-out worker, invoked with an SQS event by the sandbox's queue. */
  | { handler: "fanout-worker"; event: SQSEvent; durationMs: number; outcome: Outcome<unknown> };

/** Called after every handler invocation; tests record events with it. */
export type InvocationObserver = (invocation: Invocation) => void;

export type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown; timedOut?: boolean };

/** Raised in place of a handler's answer when it runs past the integration timeout. */
export class IntegrationTimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`the integration did not answer within ${timeoutMs} ms`);
    this.name = "IntegrationTimeoutError";
  }
}

/**
 * Calls handlers as API Gateway calls integrations: with a time limit (29 s on AWS), never letting a throw escape,
 * counting each call while it runs (the handler's own work is counted even past the time limit), and reporting it.
 */
export class Invoker {
  constructor(
    private readonly options: {
      timeoutMs: number;
      inFlight: InFlight;
      clock: Clock;
      onInvoke?: InvocationObserver;
    },
  ) {}

  async authorizer(handler: AuthorizerHandler, event: WebSocketAuthorizerEvent): Promise<Outcome<unknown>> {
    const started = this.options.clock();
    const outcome = await this.call(() => handler(event));
    this.options.onInvoke?.({ handler: "authorizer", event, outcome, durationMs: this.options.clock() - started });
    return outcome;
  }

  async route(routeKey: string, handler: RouteHandler, event: WebSocketEvent): Promise<Outcome<WebSocketResult>> {
    const started = this.options.clock();
    const outcome = await this.call(() => handler(event));
    this.options.onInvoke?.({ handler: "route", routeKey, event, outcome, durationMs: this.options.clock() - started });
    return outcome;
  }

  /** A queue consumer runs under its function's own timeout, not the integration timeout. */
  async worker(handler: QueueHandler, event: SQSEvent, timeoutMs: number): Promise<Outcome<SQSBatchResponse>> {
    const started = this.options.clock();
    const outcome = await this.call(() => handler(event), timeoutMs);
    this.options.onInvoke?.({ handler: "fanout-worker", event, outcome, durationMs: this.options.clock() - started });
    return outcome;
  }

  private call<T>(run: () => Promise<T>, timeoutMs = this.options.timeoutMs): Promise<Outcome<T>> {
    const work = this.options.inFlight.track(Promise.resolve().then(run));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<Outcome<T>>((resolve) => {
      timer = setTimeout(() => {
        resolve({ ok: false, error: new IntegrationTimeoutError(timeoutMs), timedOut: true });
      }, timeoutMs);
      timer.unref();
    });
    const settled = work.then(
      (value): Outcome<T> => ({ ok: true, value }),
      (error: unknown): Outcome<T> => ({ ok: false, error }),
    );
    return Promise.race([settled, timeout]).finally(() => clearTimeout(timer));
  }
}
