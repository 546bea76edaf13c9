import { ConfigurationError } from "../core/errors.js";
import { RouteKey } from "../core/protocol.js";

const BODY_PREFIX = "$request.body.";

/**
 * API Gateway's route selection, from the same expression the stack deploys (`$request.body.action`): the route whose
 * key equals that JSON field, or `$default` when the body is not JSON, lacks the field, or names no route.
 * Keys starting with `$` are never selected by a body: `{"action":"$connect"}` lands on `$default`.
 */
export function createRouteSelector(expression: string, routeKeys: Iterable<string>): (body: string) => string {
  const path = parseRouteSelectionExpression(expression);
  const selectable = new Set([...routeKeys].filter((key) => !key.startsWith("$")));
  return (body) => {
    const value = readPath(safeParse(body), path);
    return typeof value === "string" && selectable.has(value) ? value : RouteKey.Default;
  };
}

/** `$request.body.a.b` → `["a", "b"]`. Other forms (headers, `${...}` templates) are not used by this stack. */
export function parseRouteSelectionExpression(expression: string): string[] {
  const path = expression.startsWith(BODY_PREFIX) ? expression.slice(BODY_PREFIX.length).split(".") : [];
  if (path.length === 0 || path.some((part) => part === "")) {
    throw new ConfigurationError(
      "route selection expression",
      `is not of the form $request.body.<field>: ${expression}`,
    );
  }
  return path;
}

function safeParse(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}

// Own properties only: `{"__proto__": ...}` or an inherited name must not select a route.
function readPath(value: unknown, path: readonly string[]): unknown {
  let current = value;
  for (const key of path) {
    if (typeof current !== "object" || current === null || !Object.hasOwn(current, key)) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}
