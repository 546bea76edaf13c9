import { ChatError } from "../core/errors.js";

/** A part of the sandbox could not start: a port in use, DynamoDB Local not coming up, a missing file. */
export class SandboxStartError extends ChatError {
  constructor(
    readonly component: string,
    detail: string,
    override readonly cause?: unknown,
  ) {
    super(`${component}: ${detail}`);
  }
}

/** An HTTP request the sandbox refuses; becomes a JSON error response with this status and code. */
export class HttpError extends ChatError {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}
