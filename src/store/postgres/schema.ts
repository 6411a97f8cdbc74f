/**
 * The PostgreSQL schema, versioned per feature with the same version numbers as SQLite's
 * (store/sqlite/schema.ts). Steps are additive, so a host still on the previous mailanchor
 * keeps working while the first upgraded one has migrated. All pending steps run in one
 * transaction under an advisory lock: hosts that start together take turns, and DDL in
 * PostgreSQL is transactional, so a failed step leaves the schema as it was.
 */
import type { MigrationStep, SchemaStatus } from '../store.ts';
import type { PgPool, Queryable } from './pool.ts';

export const PG_STEPS: Readonly<Record<string, readonly string[]>> = {
  keys: [
    `CREATE TABLE dkim_keys (
       id text PRIMARY KEY, domain text NOT NULL, selector text NOT NULL, algorithm text NOT NULL,
       state text NOT NULL, state_since bigint NOT NULL, seen_everywhere_at bigint,
       created_at bigint NOT NULL, private_key_pem text NOT NULL, public_key_pem text NOT NULL,
       UNIQUE (domain, selector))`,
    `CREATE TABLE key_leases (name text PRIMARY KEY, holder text NOT NULL, expires_at bigint NOT NULL)`,
    // Any change to a key row, by any host or by hand, bumps the generation every milter polls.
    `CREATE TABLE key_generation (id int PRIMARY KEY CHECK (id = 1), n bigint NOT NULL);
     INSERT INTO key_generation (id, n) VALUES (1, 1);
     CREATE FUNCTION mailanchor_key_generation_bump() RETURNS trigger LANGUAGE plpgsql AS
       $$ BEGIN UPDATE key_generation SET n = n + 1 WHERE id = 1; RETURN NULL; END $$;
     CREATE TRIGGER dkim_keys_changed AFTER INSERT OR UPDATE OR DELETE ON dkim_keys
       FOR EACH STATEMENT EXECUTE FUNCTION mailanchor_key_generation_bump();`,
  ],
  dmarc_evaluations: [
    `CREATE TABLE dmarc_evaluations (
       id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
       received_at bigint NOT NULL,
       policy_domain text,
       header_from text NOT NULL,
       data jsonb NOT NULL
     );
     CREATE INDEX dmarc_evaluations_period ON dmarc_evaluations (policy_domain, received_at);
     CREATE INDEX dmarc_evaluations_received ON dmarc_evaluations (received_at);`,
  ],
  dmarc_reports: [
    `CREATE TABLE dmarc_reports (
       report_id text PRIMARY KEY,
       policy_domain text NOT NULL,
       begin_at bigint NOT NULL,
       end_at bigint NOT NULL,
       created_at bigint NOT NULL,
       file_name text NOT NULL,
       message_count integer NOT NULL,
       record_count integer NOT NULL,
       xml_gz bytea NOT NULL,
       UNIQUE (policy_domain, begin_at)
     );
     CREATE TABLE dmarc_report_deliveries (
       report_id text NOT NULL REFERENCES dmarc_reports (report_id) ON DELETE CASCADE,
       address text NOT NULL,
       uri text NOT NULL,
       state text NOT NULL CHECK (state IN ('pending', 'sent', 'skipped')),
       attempts integer NOT NULL DEFAULT 0,
       reason text,
       claimed_until bigint NOT NULL DEFAULT 0,
       updated_at bigint NOT NULL,
       sent_at bigint,
       PRIMARY KEY (report_id, address)
     );
     CREATE TABLE dmarc_report_suppressions (entry text PRIMARY KEY, reason text NOT NULL, added_at bigint NOT NULL);
     CREATE TABLE dmarc_report_bounces (address text PRIMARY KEY, count integer NOT NULL, last_at bigint NOT NULL, last_reason text NOT NULL);`,
  ],
  // Received DMARC and TLS reports (src/reports/received/store.ts). `json`, not `jsonb`: the
  // documents come back as they were written (jsonb would reorder their keys, and the page
  // lists some maps in their order).
  received_reports: [
    `CREATE TABLE received_dmarc_reports (
       id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
       reporter text NOT NULL,
       report_id text NOT NULL,
       policy_domain text NOT NULL,
       begin_at bigint NOT NULL,
       end_at bigint NOT NULL,
       header json NOT NULL,
       state text NOT NULL CHECK (state IN ('loading', 'complete')),
       row_count bigint NOT NULL DEFAULT 0,
       message_count bigint NOT NULL DEFAULT 0,
       stats json,
       warnings json NOT NULL DEFAULT '[]',
       source text NOT NULL,
       imported_at bigint NOT NULL,
       UNIQUE (reporter, report_id, policy_domain)
     );
     CREATE INDEX received_dmarc_reports_begin ON received_dmarc_reports (begin_at, id);
     CREATE INDEX received_dmarc_reports_end ON received_dmarc_reports (end_at);
     CREATE TABLE received_dmarc_rows (
       report bigint NOT NULL REFERENCES received_dmarc_reports (id) ON DELETE CASCADE,
       id bigint GENERATED ALWAYS AS IDENTITY,
       source_ip text NOT NULL,
       count bigint NOT NULL,
       disposition text NOT NULL,
       dkim text NOT NULL,
       spf text NOT NULL,
       header_from text NOT NULL,
       detail json NOT NULL,
       PRIMARY KEY (report, id)
     );
     CREATE TABLE received_tls_reports (
       id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
       reporter text NOT NULL,
       report_id text NOT NULL,
       begin_at bigint NOT NULL,
       end_at bigint NOT NULL,
       policy_domains text[] NOT NULL,
       report json NOT NULL,
       source text NOT NULL,
       imported_at bigint NOT NULL,
       UNIQUE (reporter, report_id)
     );
     CREATE INDEX received_tls_reports_begin ON received_tls_reports (begin_at, id);
     CREATE INDEX received_tls_reports_end ON received_tls_reports (end_at);`,
  ],
};

/** pg_advisory_xact_lock key: "mailanchor schema" (any constant shared by every host). */
const MIGRATION_LOCK = 0x6d61_7363;

async function versions(c: Queryable): Promise<Map<string, number>> {
  const exists = await c.query("SELECT to_regclass('schema_versions') IS NOT NULL AS e");
  if (!(exists.rows[0] as { e: boolean }).e) return new Map();
  const rows = (await c.query('SELECT feature, version FROM schema_versions')).rows as { feature: string; version: number }[];
  return new Map(rows.map((r) => [r.feature, Number(r.version)]));
}

export async function pgSchema(pool: PgPool): Promise<SchemaStatus[]> {
  const v = await pool.transaction((c) => versions(c), 'cannot read the schema version');
  return Object.entries(PG_STEPS).map(([feature, steps]) => ({ feature, current: v.get(feature) ?? 0, wanted: steps.length }));
}

export async function migratePg(pool: PgPool): Promise<MigrationStep[]> {
  return pool.transaction(async (c) => {
    await c.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await c.query('CREATE TABLE IF NOT EXISTS schema_versions (feature text PRIMARY KEY, version integer NOT NULL)');
    const current = await versions(c);
    const applied: MigrationStep[] = [];
    for (const [feature, steps] of Object.entries(PG_STEPS)) {
      const from = current.get(feature) ?? 0;
      if (from >= steps.length) continue; // current, or newer (a host upgraded first): steps are additive
      for (let v = from; v < steps.length; v++) await c.query(steps[v]!);
      await c.query('INSERT INTO schema_versions (feature, version) VALUES ($1, $2) ON CONFLICT (feature) DO UPDATE SET version = EXCLUDED.version', [feature, steps.length]);
      applied.push({ feature, from, to: steps.length });
    }
    return applied;
  }, 'schema migration failed');
}
