/** The DMARC evaluation log over the SQLite file: the reports' reader and a direct batch insert. */
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { DmarcEvaluation } from '../../inbound/evaluation-log.ts';
import type { EvaluationRange, EvaluationReader, StoredEvaluation } from '../../reports/evaluation-reader.ts';
import { transaction } from './database.ts';

const INSERT = 'INSERT INTO dmarc_evaluations (received_at, policy_domain, header_from, data) VALUES (?, ?, ?, ?)';

/** One transaction for the batch; the INSERT prepared once per connection. */
export function batchInserter(db: DatabaseSync): (rows: readonly DmarcEvaluation[]) => void {
  let insert: StatementSync | undefined;
  return (rows) => {
    insert ??= db.prepare(INSERT);
    const stmt = insert;
    transaction(db, () => {
      for (const ev of rows) stmt.run(ev.receivedAt, ev.policy?.domain ?? null, ev.headerFrom, JSON.stringify(ev));
    });
  };
}

export class SqliteEvaluations implements EvaluationReader {
  readonly #db: DatabaseSync;
  readonly insertBatch: (rows: readonly DmarcEvaluation[]) => void;

  constructor(db: DatabaseSync) {
    this.#db = db;
    this.insertBatch = batchInserter(db);
  }

  async list(range: EvaluationRange): Promise<{ rows: StoredEvaluation[]; bad: { id: number; reason: string }[] }> {
    const raw = (range.policyDomain
      ? this.#db.prepare('SELECT id, data FROM dmarc_evaluations WHERE policy_domain = ? AND received_at >= ? AND received_at < ? ORDER BY id').all(range.policyDomain, range.from, range.to)
      : this.#db.prepare('SELECT id, data FROM dmarc_evaluations WHERE policy_domain IS NOT NULL AND received_at >= ? AND received_at < ? ORDER BY id').all(range.from, range.to)) as { id: number; data: string }[];
    const rows: StoredEvaluation[] = [];
    const bad: { id: number; reason: string }[] = [];
    for (const r of raw) {
      try {
        rows.push({ id: r.id, evaluation: JSON.parse(r.data) as DmarcEvaluation });
      } catch (err) {
        bad.push({ id: r.id, reason: (err as Error).message });
      }
    }
    return { rows, bad };
  }

  async prune(olderThan: number): Promise<number> {
    return transaction(this.#db, () => Number(this.#db.prepare('DELETE FROM dmarc_evaluations WHERE received_at < ?').run(olderThan).changes));
  }

  async summary(): Promise<{ count: number; first?: number; last?: number }> {
    const r = this.#db.prepare('SELECT COUNT(*) AS n, MIN(received_at) AS a, MAX(received_at) AS b FROM dmarc_evaluations').get() as { n: number; a: number | null; b: number | null };
    return { count: Number(r.n), ...(r.a !== null ? { first: Number(r.a) } : {}), ...(r.b !== null ? { last: Number(r.b) } : {}) };
  }
}
