/**
 * What API Gateway makes of a Lambda REQUEST authorizer's outcome (FACTS.md): `Error("Unauthorized")` is 401, a
 * policy that does not allow `execute-api:Invoke` on the method ARN (or denies it) is 403, and anything else that
 * goes wrong (another error, a timeout, a malformed result, context values that are not primitives, a result over
 * 8 KB) is 500. An Allow passes the context on with every value turned into a string, as API Gateway does.
 */
export type AuthorizerDecision =
  | { allow: true; principalId: string; context: Record<string, string> }
  | { allow: false; status: 401 | 403 | 500; detail: string };

export type AuthorizerOutcome = { ok: true; value: unknown } | { ok: false; error: unknown; timedOut?: boolean };

/** API Gateway's limit on an authorizer result. */
const MAX_RESULT_BYTES = 8 * 1024;
const INVOKE_ACTION = "execute-api:Invoke";

export function decideAuthorization(outcome: AuthorizerOutcome, methodArn: string): AuthorizerDecision {
  if (!outcome.ok) {
    if (outcome.timedOut) return { allow: false, status: 500, detail: "authorizer timed out" };
    const unauthorized = outcome.error instanceof Error && outcome.error.message === "Unauthorized";
    return unauthorized
      ? { allow: false, status: 401, detail: "unauthorized" }
      : { allow: false, status: 500, detail: "authorizer error" };
  }
  const result = outcome.value;
  if (!isObject(result) || typeof result.principalId !== "string" || !isObject(result.policyDocument)) {
    return { allow: false, status: 500, detail: "malformed authorizer result" };
  }
  if (Buffer.byteLength(JSON.stringify(result)) > MAX_RESULT_BYTES) {
    return { allow: false, status: 500, detail: "authorizer result over 8 KB" };
  }
  const context = stringContext(result.context);
  if (!context) return { allow: false, status: 500, detail: "authorizer context holds a non-primitive value" };

  const statements = asArray(result.policyDocument.Statement).filter(
    (statement) => isObject(statement) && matchesAny(statement.Action, INVOKE_ACTION, true),
  ) as Record<string, unknown>[];
  const applies = (effect: string) =>
    statements.some((statement) => statement.Effect === effect && matchesAny(statement.Resource, methodArn, false));
  if (applies("Deny")) return { allow: false, status: 403, detail: "denied by policy" };
  if (!applies("Allow")) return { allow: false, status: 403, detail: "policy does not allow the route" };
  return { allow: true, principalId: result.principalId, context };
}

function stringContext(context: unknown): Record<string, string> | undefined {
  if (context === undefined || context === null) return {};
  if (!isObject(context)) return undefined;
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(context)) {
    if (typeof value !== "string" && typeof value !== "number" && typeof value !== "boolean") return undefined;
    out[key] = String(value);
  }
  return out;
}

/** IAM-style match: `*` is any run of characters, `?` one character; actions ignore case, ARNs do not. */
function matchesAny(patterns: unknown, value: string, ignoreCase: boolean): boolean {
  return asArray(patterns).some((pattern) => {
    if (typeof pattern !== "string") return false;
    const source = pattern
      .replace(/[.+^${}()|[\]\\]/g, "\\$&")
      .replace(/\*/g, ".*")
      .replace(/\?/g, ".");
    return new RegExp(`^${source}$`, ignoreCase ? "i" : "").test(value);
  });
}

const asArray = (value: unknown): unknown[] => (Array.isArray(value) ? value : value === undefined ? [] : [value]);
const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);
