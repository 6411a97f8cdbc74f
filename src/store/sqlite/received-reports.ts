/**
 * SQLite adapter of the received-reports port (`src/reports/received/store.ts`). Tables
 * owned by the reports feature, migrated as `received_reports`. Rows go in one short write
 * transaction per batch, not one transaction per report: the milter writes its
 * evaluations to the same file and must not wait behind a 100 MB import. A report is
 * `loading` until its last batch is in; readers see only `complete` ones; a `loading` row
 * older than `STALE_MS` (an import that died) is replaced by the next import of the report.
 */
import type { DatabaseSync } from 'node:sqlite';
import type { AggregateStats } from '../../reports/read/aggregate-parser.ts';
import { reporterKey, type AggregateHeader, type AggregateRow, type TlsReport } from '../../reports/read/model.ts';
import type { BeginResult, HistoryCounts, HistoryQuery, ImportMeta, ReceivedReportStore, StoredDmarcReport } from '../../reports/received/store.ts';
import { migrate, transaction } from '../database.ts';

const STEPS = [
  `CREATE TABLE received_dmarc_reports (
     id INTEGER PRIMARY KEY,
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
   CREATE INDEX received_dmarc_reports_period ON received_dmarc_reports (policy_domain, end_at);
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
   CREATE INDEX received_tls_reports_period ON received_tls_reports (end_at);`,
];

/** An import that has not finished after this long died; its rows are replaced. */
const STALE_MS = 3_600_000;
const PAGE = 5000;

type RowDetail = Pick<AggregateRow, 'reasons' | 'envelopeFrom' | 'envelopeTo' | 'dkimAuth' | 'spfAuth'>;

function inDomains(domain: string, domains: readonly string[]): boolean {
  return domains.length === 0 || domains.some((d) => domain === d || domain.endsWith(`.${d}`));
}

export class SqliteReceivedReports implements ReceivedReportStore {
  readonly #db: DatabaseSync;

  constructor(db: DatabaseSync) {
    this.#db = db;
    migrate(db, 'received_reports', STEPS);
  }

  async beginDmarc(header: AggregateHeader, meta: ImportMeta): Promise<BeginResult> {
    const db = this.#db;
    const reporter = reporterKey(header.orgName);
    const claimed = transaction(db, () => {
      const existing = db
        .prepare('SELECT id, state, source, imported_at FROM received_dmarc_reports WHERE reporter = ? AND report_id = ? AND policy_domain = ?')
        .get(reporter, header.reportId, header.policy.domain) as { id: number; state: string; source: string; imported_at: number } | undefined;
      if (existing) {
        if (existing.state === 'complete' || meta.importedAt - existing.imported_at < STALE_MS) return { kind: 'duplicate' as const, importedAt: existing.imported_at, source: existing.source };
        db.prepare('DELETE FROM received_dmarc_reports WHERE id = ?').run(existing.id);
      }
      const r = db
        .prepare(
          `INSERT INTO received_dmarc_reports (reporter, report_id, policy_domain, begin_at, end_at, header, state, source, imported_at)
           VALUES (?, ?, ?, ?, ?, ?, 'loading', ?, ?)`,
        )
        .run(reporter, header.reportId, header.policy.domain, header.begin, header.end, JSON.stringify(header), meta.source, meta.importedAt);
      return { kind: 'new' as const, id: Number(r.lastInsertRowid) };
    });
    if (claimed.kind === 'duplicate') return claimed;
    const id = claimed.id;
    const insert = db.prepare('INSERT INTO received_dmarc_rows (report, source_ip, count, disposition, dkim, spf, header_from, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
    return {
      kind: 'new',
      sink: {
        rows: async (batch) => {
          transaction(db, () => {
            for (const r of batch) {
              const detail: RowDetail = { reasons: r.reasons, dkimAuth: r.dkimAuth, spfAuth: r.spfAuth, ...(r.envelopeFrom !== undefined ? { envelopeFrom: r.envelopeFrom } : {}), ...(r.envelopeTo !== undefined ? { envelopeTo: r.envelopeTo } : {}) };
              insert.run(id, r.sourceIp, r.count, r.disposition, r.dkim, r.spf, r.headerFrom, JSON.stringify(detail));
            }
          });
        },
        commit: async (stats, warnings) => {
          transaction(db, () => {
            db.prepare("UPDATE received_dmarc_reports SET state = 'complete', row_count = ?, message_count = ?, stats = ?, warnings = ? WHERE id = ?").run(stats.rows, stats.messages, JSON.stringify(stats), JSON.stringify(warnings), id);
          });
        },
        abort: async () => {
          transaction(db, () => {
            db.prepare('DELETE FROM received_dmarc_reports WHERE id = ?').run(id);
          });
          return undefined;
        },
      },
    };
  }

  async addTls(report: TlsReport, meta: ImportMeta): Promise<'stored' | 'duplicate'> {
    const domains = [...new Set(report.policies.map((p) => p.policyDomain))].sort().join(' ');
    const r = transaction(this.#db, () =>
      this.#db
        .prepare(
          `INSERT INTO received_tls_reports (reporter, report_id, begin_at, end_at, policy_domains, report, source, imported_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (reporter, report_id) DO NOTHING`,
        )
        .run(reporterKey(report.orgName), report.reportId, report.begin, report.end, domains, JSON.stringify(report), meta.source, meta.importedAt),
    );
    return Number(r.changes) === 1 ? 'stored' : 'duplicate';
  }

  async *dmarc(query: HistoryQuery): AsyncIterable<{ report: StoredDmarcReport; rows: AsyncIterable<readonly AggregateRow[]> }> {
    const db = this.#db;
    const reports = db
      .prepare(
        `SELECT id, policy_domain, header, stats, warnings, source, imported_at FROM received_dmarc_reports
         WHERE state = 'complete' AND end_at >= ? AND begin_at < ? ORDER BY begin_at, id`,
      )
      .all(query.from, query.to) as { id: number; policy_domain: string; header: string; stats: string; warnings: string; source: string; imported_at: number }[];
    const page = db.prepare('SELECT rowid, source_ip, count, disposition, dkim, spf, header_from, detail FROM received_dmarc_rows WHERE report = ? AND rowid > ? ORDER BY rowid LIMIT ?');
    for (const r of reports) {
      if (!inDomains(r.policy_domain, query.domains)) continue;
      const report: StoredDmarcReport = {
        header: JSON.parse(r.header) as AggregateHeader,
        stats: JSON.parse(r.stats) as AggregateStats,
        warnings: JSON.parse(r.warnings) as string[],
        source: r.source,
        importedAt: r.imported_at,
      };
      async function* rows(): AsyncGenerator<readonly AggregateRow[]> {
        let after = 0;
        for (;;) {
          const got = page.all(r.id, after, PAGE) as { rowid: number; source_ip: string; count: number; disposition: string; dkim: string; spf: string; header_from: string; detail: string }[];
          if (got.length === 0) return;
          after = got.at(-1)!.rowid;
          yield got.map((g) => ({
            sourceIp: g.source_ip,
            count: g.count,
            disposition: g.disposition as AggregateRow['disposition'],
            dkim: g.dkim as AggregateRow['dkim'],
            spf: g.spf as AggregateRow['spf'],
            headerFrom: g.header_from,
            ...(JSON.parse(g.detail) as RowDetail),
          }));
          if (got.length < PAGE) return;
        }
      }
      yield { report, rows: rows() };
    }
  }

  async *tls(query: HistoryQuery): AsyncIterable<TlsReport> {
    const rows = this.#db.prepare('SELECT report, policy_domains FROM received_tls_reports WHERE end_at >= ? AND begin_at < ? ORDER BY begin_at, id').all(query.from, query.to) as { report: string; policy_domains: string }[];
    for (const r of rows) {
      if (query.domains.length && !r.policy_domains.split(' ').some((d) => inDomains(d, query.domains))) continue;
      yield JSON.parse(r.report) as TlsReport;
    }
  }

  async prune(before: number): Promise<{ dmarc: number; tls: number }> {
    return transaction(this.#db, () => ({
      dmarc: Number(this.#db.prepare("DELETE FROM received_dmarc_reports WHERE end_at < ? AND state = 'complete'").run(before).changes),
      tls: Number(this.#db.prepare('DELETE FROM received_tls_reports WHERE end_at < ?').run(before).changes),
    }));
  }

  async counts(): Promise<HistoryCounts> {
    const d = this.#db.prepare("SELECT COUNT(*) AS n, COALESCE(SUM(row_count), 0) AS rows, MIN(begin_at) AS a, MAX(end_at) AS b FROM received_dmarc_reports WHERE state = 'complete'").get() as { n: number; rows: number; a: number | null; b: number | null };
    const t = this.#db.prepare('SELECT COUNT(*) AS n, MIN(begin_at) AS a, MAX(end_at) AS b FROM received_tls_reports').get() as { n: number; a: number | null; b: number | null };
    const firsts = [d.a, t.a].filter((x): x is number => x !== null);
    const lasts = [d.b, t.b].filter((x): x is number => x !== null);
    return {
      dmarcReports: d.n,
      tlsReports: t.n,
      rows: d.rows,
      ...(firsts.length ? { first: Math.min(...firsts) } : {}),
      ...(lasts.length ? { last: Math.max(...lasts) } : {}),
    };
  }

  async close(): Promise<void> {
    // The database handle belongs to whoever opened it.
  }
}
