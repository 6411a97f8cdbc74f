/** The embedded store: every port over one SQLite file. */
import type { Store } from '../store.ts';
import { openDatabase } from './database.ts';
import { threadEvaluationSink } from './evaluation-thread.ts';
import { SqliteEvaluations } from './evaluations.ts';
import { SqliteKeyStore, SqliteLease } from './key-store.ts';
import { SqliteLedger } from './ledger.ts';
import { SqliteReceivedReports } from './received-reports.ts';
import { migrateSqlite, sqliteSchema } from './schema.ts';

export function openSqliteStore(path: string, options: { readonly busyTimeoutMs?: number } = {}): Store {
  const db = openDatabase(path, options);
  let closed = false;
  return {
    engine: 'sqlite',
    location: path,
    keys: new SqliteKeyStore(db),
    lease: new SqliteLease(db),
    evaluations: new SqliteEvaluations(db),
    ledger: new SqliteLedger(db),
    received: new SqliteReceivedReports(db),
    migrate: async () => migrateSqlite(db),
    schema: async () => sqliteSchema(db),
    openEvaluationSink: () => threadEvaluationSink(path, options),
    async close() {
      if (closed) return;
      closed = true;
      db.close();
    },
  };
}
