import { type CountedRule, FaultRules } from "./fault-rules.js";

/** The management API's methods, as `PostToConnection`, `GetConnection` and `DeleteConnection` send them. */
export type ManagementMethod = "POST" | "GET" | "DELETE";

/** Statuses a fault can answer with; each maps to the error type API Gateway sends. */
export type FaultStatus = 403 | 410 | 413 | 429 | 500 | 503;

export interface FaultRule extends CountedRule {
  /** Connections the rule applies to (ids, or a test). @default every connection */
  connectionIds?: readonly string[] | ((connectionId: string) => boolean);
  /** @default every method */
  methods?: readonly ManagementMethod[];
  /** Only POSTs whose payload passes this test (say, one frame type among concurrent broadcasts). @default any */
  payload?: (data: string) => boolean;
  /** The error status to answer with. @default - none: the call is only delayed, then served normally */
  status?: FaultStatus;
  /** Wait this long before answering (a slow endpoint). @default 0 */
  delayMs?: number;
}

export interface ManagementCall {
  method: ManagementMethod;
  connectionId: string;
  /** A POST's body; decoded only for a rule that looks at it (this runs once per recipient of every broadcast). */
  payload?: Buffer;
}

export interface Fault {
  status?: FaultStatus;
  delayMs: number;
}

/**
 * Faults the sandbox's management API injects into chosen calls, so reliability tests exercise the real path
 * (SDK, HTTP, broadcaster) with the errors API Gateway gives: 410 gone, 429 throttled then fine, 500, slow answers.
 * Rules are tried in the order added; the first that matches applies.
 */
export class ManagementFaults {
  private readonly rules = new FaultRules<FaultRule, ManagementCall>((rule, call) => {
    if (rule.methods && !rule.methods.includes(call.method)) return false;
    if (rule.payload && (call.payload === undefined || !rule.payload(call.payload.toString("utf8")))) return false;
    const ids = rule.connectionIds;
    if (ids === undefined) return true;
    return typeof ids === "function" ? ids(call.connectionId) : ids.includes(call.connectionId);
  });

  /** Adds a rule; returns a function that removes it. */
  add(rule: FaultRule): () => void {
    return this.rules.add(rule);
  }

  clear(): void {
    this.rules.clear();
  }

  /** The fault for this call, if any, using up one of its rule's `times`. */
  take(call: ManagementCall): Fault | undefined {
    const rule = this.rules.take(call);
    return rule && { status: rule.status, delayMs: rule.delayMs ?? 0 };
  }
}
