/**
 * The reports feature's view of the DMARC evaluation log (a port; adapters in store/): every
 * host's evaluations of a period, read back to build aggregate reports, and pruned.
 */
import type { DmarcEvaluation } from '../inbound/evaluation-log.ts';

export interface StoredEvaluation {
  readonly id: number;
  readonly evaluation: DmarcEvaluation;
}

export interface EvaluationRange {
  /** ms, inclusive */
  readonly from: number;
  /** ms, exclusive */
  readonly to: number;
  readonly policyDomain?: string;
}

export interface EvaluationReader {
  /** Evaluations with a policy domain in [from, to); rows that do not parse are returned in `bad`. */
  list(range: EvaluationRange): Promise<{ rows: StoredEvaluation[]; bad: { id: number; reason: string }[] }>;
  /** Deletes evaluations received before `olderThan` (ms); returns how many. */
  prune(olderThan: number): Promise<number>;
  /** How many are stored, and the first and last receipt time (ms). */
  summary(): Promise<{ count: number; first?: number; last?: number }>;
}
