/** What every fault rule has: how many calls it affects before it removes itself. */
export interface CountedRule {
  /** @default - every matching call until removed */
  times?: number;
}

/**
 * An ordered list of fault rules: the first rule that matches a call applies to it and uses up one of its `times`.
 * Shared by the management API's faults and DynamoDB's, which differ only in what a call is.
 */
export class FaultRules<Rule extends CountedRule, Call> {
  private rules: { rule: Rule; remaining: number }[] = [];

  constructor(private readonly matches: (rule: Rule, call: Call) => boolean) {}

  /** Adds a rule; returns a function that removes it. */
  add(rule: Rule): () => void {
    const entry = { rule, remaining: rule.times ?? Number.POSITIVE_INFINITY };
    this.rules.push(entry);
    return () => this.remove(entry);
  }

  clear(): void {
    this.rules = [];
  }

  /** The rule for this call, if any, using up one of its `times`. */
  take(call: Call): Rule | undefined {
    const entry = this.rules.find(({ rule }) => this.matches(rule, call));
    if (!entry) return undefined;
    entry.remaining--;
    if (entry.remaining <= 0) this.remove(entry);
    return entry.rule;
  }

  private remove(entry: { rule: Rule; remaining: number }): void {
    this.rules = this.rules.filter((candidate) => candidate !== entry);
  }
}
