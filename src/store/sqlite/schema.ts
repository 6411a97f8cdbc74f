/**
 * The SQLite schema, versioned per feature: step i brings a feature to version i+1. Steps
 * are additive (new tables, columns, indexes), so an older mailanchor still works on a newer
 * file. The versions match PostgreSQL's (store/postgres/schema.ts) so `store migrate --from`
 * can copy one into the other.
 */
import type { DatabaseSync } from 'node:sqlite';
import { StoreError } from '../errors.ts';
import type { MigrationStep, SchemaStatus } from '../store.ts';
import { transaction } from './database.ts';

const bump = (op: string) => `CREATE TRIGGER dkim_keys_${op} AFTER ${op.toUpperCase()} ON dkim_keys BEGIN UPDATE key_generation SET n = n + 1 WHERE id = 1; END;`;

export const SQLITE_STEPS: Readonly<Record<string, readonly string[]>> = {
  keys: [
    `CREATE TABLE dkim_keys (
       id TEXT PRIMARY KEY, domain TEXT NOT NULL, selector TEXT NOT NULL, algorithm TEXT NOT NULL,
       state TEXT NOT NULL, state_since INTEGER NOT NULL, seen_everywhere_at INTEGER,
       created_at INTEGER NOT NULL, private_key_pem TEXT NOT NULL, public_key_pem TEXT NOT NULL,
       -- A selector is never reused for a different key while a row for it exists; rows are
       -- kept after removal, except that a hosted domain's fixed selector replaces its removed row.
       UNIQUE (domain, selector))`,
    `CREATE TABLE key_leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires_at INTEGER NOT NULL)`,
    // Any change to a key row, by mailanchor or by hand, bumps the generation the milter polls.
    `CREATE TABLE key_generation (id INTEGER PRIMARY KEY CHECK (id = 1), n INTEGER NOT NULL);
     INSERT INTO key_generation (id, n) VALUES (1, 1);
     ${bump('insert')} ${bump('update')} ${bump('delete')}`,
  ],
  dmarc_evaluations: [
    `CREATE TABLE dmarc_evaluations (
       id INTEGER PRIMARY KEY,
       received_at INTEGER NOT NULL,
       policy_domain TEXT,
       header_from TEXT NOT NULL,
       data TEXT NOT NULL
     );
     CREATE INDEX dmarc_evaluations_period ON dmarc_evaluations (policy_domain, received_at);`,
  ],
  dmarc_reports: [
    `CREATE TABLE dmarc_reports (
       report_id TEXT PRIMARY KEY,
       policy_domain TEXT NOT NULL,
       begin_at INTEGER NOT NULL,
       end_at INTEGER NOT NULL,
       created_at INTEGER NOT NULL,
       file_name TEXT NOT NULL,
       message_count INTEGER NOT NULL,
       record_count INTEGER NOT NULL,
       xml_gz BLOB NOT NULL,
       UNIQUE (policy_domain, begin_at)
     );
     CREATE TABLE dmarc_report_deliveries (
       report_id TEXT NOT NULL REFERENCES dmarc_reports (report_id) ON DELETE CASCADE,
       address TEXT NOT NULL,
       uri TEXT NOT NULL,
       state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'skipped')),
       attempts INTEGER NOT NULL DEFAULT 0,
       reason TEXT,
       claimed_until INTEGER NOT NULL DEFAULT 0,
       updated_at INTEGER NOT NULL,
       sent_at INTEGER,
       PRIMARY KEY (report_id, address)
     );
     CREATE TABLE dmarc_report_suppressions (entry TEXT PRIMARY KEY, reason TEXT NOT NULL, added_at INTEGER NOT NULL);
     CREATE TABLE dmarc_report_bounces (address TEXT PRIMARY KEY, count INTEGER NOT NULL, last_at INTEGER NOT NULL, last_reason TEXT NOT NULL);`,
  ],
  // Received DMARC and TLS reports (src/reports/received/store.ts): JSON in TEXT columns,
  // TLS policy domains as a JSON array (queried with json_each).
  received_reports: [
    // AUTOINCREMENT: an id is never given again, so an import whose report was taken over
    // (deleted, claimed anew) cannot mistake the new claim for its own.
    `CREATE TABLE received_dmarc_reports (
       id INTEGER PRIMARY KEY AUTOINCREMENT,
       reporter TEXT NOT NULL,
       report_id TEXT NOT NULL,
       policy_domain TEXT NOT NULL,
       begin_at INTEGER NOT NULL,
       end_at INTEGER NOT NULL,
       header TEXT NOT NULL,
       state TEXT NOT NULL CHECK (state IN ('loading', 'complete')),
       row_count INTEGER NOT NULL DEFAULT 0,
       message_count INTEGER NOT NULL DEFAULT 0,
       stats TEXT,
       warnings TEXT NOT NULL DEFAULT '[]',
       source TEXT NOT NULL,
       imported_at INTEGER NOT NULL,
       UNIQUE (reporter, report_id, policy_domain)
     );
     CREATE INDEX received_dmarc_reports_begin ON received_dmarc_reports (begin_at, id);
     CREATE INDEX received_dmarc_reports_end ON received_dmarc_reports (end_at);
     CREATE TABLE received_dmarc_rows (
       report INTEGER NOT NULL REFERENCES received_dmarc_reports (id) ON DELETE CASCADE,
       source_ip TEXT NOT NULL,
       count INTEGER NOT NULL,
       disposition TEXT NOT NULL,
       dkim TEXT NOT NULL,
       spf TEXT NOT NULL,
       header_from TEXT NOT NULL,
       detail TEXT NOT NULL
     );
     CREATE INDEX received_dmarc_rows_report ON received_dmarc_rows (report);
     CREATE TABLE received_tls_reports (
       id INTEGER PRIMARY KEY,
       reporter TEXT NOT NULL,
       report_id TEXT NOT NULL,
       begin_at INTEGER NOT NULL,
       end_at INTEGER NOT NULL,
       policy_domains TEXT NOT NULL,
       report TEXT NOT NULL,
       source TEXT NOT NULL,
       imported_at INTEGER NOT NULL,
       UNIQUE (reporter, report_id)
     );
     CREATE INDEX received_tls_reports_begin ON received_tls_reports (begin_at, id);
     CREATE INDEX received_tls_reports_end ON received_tls_reports (end_at);`,
  ],
};

const VERSIONS_TABLE = 'CREATE TABLE IF NOT EXISTS schema_versions (feature TEXT PRIMARY KEY, version INTEGER NOT NULL)';

function currentVersion(db: DatabaseSync, feature: string): number {
  const exists = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_versions'").get();
  if (!exists) return 0;
  const row = db.prepare('SELECT version FROM schema_versions WHERE feature = ?').get(feature) as { version: number } | undefined;
  return row?.version ?? 0;
}

export function sqliteSchema(db: DatabaseSync): SchemaStatus[] {
  return Object.entries(SQLITE_STEPS).map(([feature, steps]) => ({ feature, current: currentVersion(db, feature), wanted: steps.length }));
}

/** Applies every feature's pending steps, one transaction per feature. A newer schema is left alone. */
export function migrateSqlite(db: DatabaseSync): MigrationStep[] {
  const applied: MigrationStep[] = [];
  for (const [feature, steps] of Object.entries(SQLITE_STEPS)) {
    try {
      transaction(db, () => {
        db.exec(VERSIONS_TABLE);
        const current = currentVersion(db, feature);
        // Newer than this mailanchor (a host upgraded first migrated it): steps are additive, nothing to do.
        if (current >= steps.length) return;
        for (let v = current; v < steps.length; v++) db.exec(steps[v]!);
        db.prepare('INSERT INTO schema_versions (feature, version) VALUES (?, ?) ON CONFLICT(feature) DO UPDATE SET version = excluded.version').run(feature, steps.length);
        applied.push({ feature, from: current, to: steps.length });
      });
    } catch (err) {
      throw new StoreError('MIGRATION_FAILED', `cannot migrate ${feature} tables: ${(err as Error).message}`, { feature }, { cause: err });
    }
  }
  return applied;
}
