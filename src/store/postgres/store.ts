/** The shared store: every port over one PostgreSQL database (node-postgres pool). */
import type { Store } from '../store.ts';
import type { StoreError } from '../errors.ts';
import { PgEvaluations } from './evaluations.ts';
import { PgKeyStore, PgLease } from './key-store.ts';
import { PgLedger } from './ledger.ts';
import { PgPool, type PgOptions } from './pool.ts';
import { PgReceivedReports } from './received-reports.ts';
import { migratePg, pgSchema } from './schema.ts';

export function openPgStore(options: PgOptions & { readonly onIdleError?: (err: StoreError) => void }): Store {
  const pool = new PgPool(options);
  const evaluations = new PgEvaluations(pool);
  let closed = false;
  return {
    engine: 'postgres',
    location: options.location,
    keys: new PgKeyStore(pool),
    lease: new PgLease(pool),
    evaluations,
    ledger: new PgLedger(pool),
    received: new PgReceivedReports(pool),
    migrate: () => migratePg(pool),
    schema: () => pgSchema(pool),
    openEvaluationSink: () => evaluations,
    async close() {
      if (closed) return;
      closed = true;
      await pool.end();
    },
  };
}
