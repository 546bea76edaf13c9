import { type AuthorizerRunParams, type AuthorizerRunResult, AuthorizerVariant } from "./authorizer-runner.js";
import { withChild } from "./child-process.js";
import { type BenchRow, Section } from "./report.js";
import { round } from "./stats.js";

/** Target: the product verifies at least this fraction of the floor's rate. */
export const AUTHORIZER_MIN_RATIO = 0.8;

/**
 * Section 3: verifications per second with a warm JWKS cache, the three paths interleaved in one child process
 * (rotating order, equal slices) so that drift on a shared machine hits them alike. ratio = rate ÷ floor rate.
 */
export async function authorizerSection(
  params: AuthorizerRunParams,
  progress: (line: string) => void,
): Promise<BenchRow[]> {
  progress(`authorizer: ${params.rounds} rounds of ${params.sliceMs} ms per variant`);
  const result = await withChild("authorizer-runner", {}, (child) =>
    child.call<AuthorizerRunResult>("run", params, params.rounds * params.sliceMs * 3 * 4 + 30_000),
  );
  const rate = (variant: AuthorizerVariant) => result[variant].ops / result[variant].seconds;
  const floor = rate(AuthorizerVariant.Floor);
  return Object.values(AuthorizerVariant).map((variant): BenchRow => {
    const row: BenchRow = {
      section: Section.Authorizer,
      variant,
      case: "warm JWKS, RS256 2048-bit",
      opsPerSec: Math.round(rate(variant)),
      usPerOp: round(1e6 / rate(variant), 1),
      ratio: round(rate(variant) / floor),
    };
    if (variant === AuthorizerVariant.Product) {
      row.target = `ratio ≥ ${AUTHORIZER_MIN_RATIO}`;
      row.targetMet = row.ratio >= AUTHORIZER_MIN_RATIO;
    }
    return row;
  });
}
