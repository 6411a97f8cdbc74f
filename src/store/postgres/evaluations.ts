/**
 * The DMARC evaluation log over PostgreSQL: every host's writer inserts its batches here, and
 * the report job of any host reads them all back. A batch is one INSERT … SELECT FROM
 * unnest(arrays): four parameters whatever the batch size, one round trip, one transaction.
 */
import type { DmarcEvaluation } from '../../inbound/evaluation-log.ts';
import type { EvaluationRange, EvaluationReader, StoredEvaluation } from '../../reports/evaluation-reader.ts';
import type { EvaluationSink } from '../store.ts';
import type { PgPool } from './pool.ts';

export class PgEvaluations implements EvaluationReader, EvaluationSink {
  readonly #pool: PgPool;

  constructor(pool: PgPool) {
    this.#pool = pool;
  }

  async insertBatch(rows: readonly DmarcEvaluation[]): Promise<void> {
    if (rows.length === 0) return;
    await this.#pool.query(
      `INSERT INTO dmarc_evaluations (received_at, policy_domain, header_from, data)
       SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::jsonb[])`,
      [rows.map((r) => r.receivedAt), rows.map((r) => r.policy?.domain ?? null), rows.map((r) => r.headerFrom), rows.map((r) => JSON.stringify(r))],
      'cannot store DMARC evaluations',
    );
  }

  async close(): Promise<void> {
    // The pool belongs to the store; closing the store ends it.
  }

  async list(range: EvaluationRange): Promise<{ rows: StoredEvaluation[]; bad: { id: number; reason: string }[] }> {
    const r = range.policyDomain
      ? await this.#pool.query<{ id: string; data: unknown }>('SELECT id, data FROM dmarc_evaluations WHERE policy_domain = $1 AND received_at >= $2 AND received_at < $3 ORDER BY id', [range.policyDomain, range.from, range.to], 'cannot read DMARC evaluations')
      : await this.#pool.query<{ id: string; data: unknown }>('SELECT id, data FROM dmarc_evaluations WHERE policy_domain IS NOT NULL AND received_at >= $1 AND received_at < $2 ORDER BY id', [range.from, range.to], 'cannot read DMARC evaluations');
    const rows: StoredEvaluation[] = [];
    const bad: { id: number; reason: string }[] = [];
    for (const row of r.rows) {
      // jsonb arrives parsed; anything but an object is a foreign row (the report builder checks the shape).
      if (typeof row.data === 'object' && row.data !== null) rows.push({ id: Number(row.id), evaluation: row.data as DmarcEvaluation });
      else bad.push({ id: Number(row.id), reason: `not a JSON object: ${typeof row.data}` });
    }
    return { rows, bad };
  }

  async prune(olderThan: number): Promise<number> {
    const r = await this.#pool.query('DELETE FROM dmarc_evaluations WHERE received_at < $1', [olderThan], 'cannot prune DMARC evaluations');
    return r.rowCount ?? 0;
  }

  async summary(): Promise<{ count: number; first?: number; last?: number }> {
    const r = await this.#pool.query<{ n: string; a: string | null; b: string | null }>('SELECT COUNT(*) AS n, MIN(received_at) AS a, MAX(received_at) AS b FROM dmarc_evaluations', [], 'cannot count DMARC evaluations');
    const row = r.rows[0]!;
    return { count: Number(row.n), ...(row.a !== null ? { first: Number(row.a) } : {}), ...(row.b !== null ? { last: Number(row.b) } : {}) };
  }
}
