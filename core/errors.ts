/** Base of every error this product throws on purpose, so callers can tell them from surprises. */
export abstract class ChatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A setting (environment variable or CDK context value) is missing or malformed. */
export class ConfigurationError extends ChatError {
  constructor(
    readonly setting: string,
    readonly problem: string,
    readonly example?: string,
  ) {
    super(`${setting} ${problem}${example ? ` (for example: ${example})` : ""}`);
  }
}

/** Why a token was refused. Categories are logged; tokens never are. */
export const RejectionReason = {
  Missing: "missing",
  Malformed: "malformed",
  BadAlgorithm: "bad_algorithm",
  BadSignature: "bad_signature",
  UnknownKey: "unknown_key",
  Expired: "expired",
  NotYetValid: "not_yet_valid",
  WrongIssuer: "wrong_issuer",
  NotASessionToken: "not_a_session_token",
  MissingClaim: "missing_claim",
  JwksUnavailable: "jwks_unavailable",
} as const;
export type RejectionReason = (typeof RejectionReason)[keyof typeof RejectionReason];

/** The token is not a valid SuperTokens session access token for this deployment. */
export class TokenRejectedError extends ChatError {
  constructor(
    readonly reason: RejectionReason,
    detail: string,
  ) {
    super(`token rejected (${reason}): ${detail}`);
  }
}

/** A client frame cannot be acted on; it becomes an error frame for the sender. */
export class InvalidRequestError extends ChatError {
  constructor(
    readonly code: import("./protocol.js").ErrorCode,
    message: string,
  ) {
    super(message);
  }
}
