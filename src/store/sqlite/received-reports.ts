/**
 * SQLite adapter of the received-reports port (`src/reports/received/store.ts`), tables of
 * store/sqlite/schema.ts `received_reports`. Rows go in one short write transaction per
 * batch, not one transaction per report: the milter writes its evaluations to the same file
 * and must not wait behind a 100 MB import. A report is `loading` until its last batch is
 * in; readers see only `complete` ones. Reports and rows are read in pages (keyset on
 * (begin_at, id) and rowid), so a long history is never one result set in memory.
 */
import type { DatabaseSync } from 'node:sqlite';
import { ReportError } from '../../reports/errors.ts';
import type { AggregateStats } from '../../reports/read/aggregate-parser.ts';
import { reporterKey, type AggregateHeader, type AggregateRow, type TlsReport } from '../../reports/read/model.ts';
import { STALE_IMPORT_MS, type BeginResult, type HistoryCounts, type HistoryQuery, type ImportMeta, type PruneResult, type ReceivedReportStore, type StoredDmarcReport, type StoredTlsReport } from '../../reports/received/store.ts';
import { BEFORE_ALL, historyCounts, rowDetail, rowFrom, type RowDetail } from '../received-shape.ts';
import { transaction } from './database.ts';

const REPORT_PAGE = 500;
const ROW_PAGE = 5000;

/** `domain` (a column) is one of the JSON array `?`'s domains or below one; an empty array matches all. */
const inDomains = (domain: string) =>
  `(json_array_length(?) = 0 OR EXISTS (SELECT 1 FROM json_each(?) q WHERE ${domain} = q.value OR substr(${domain}, -(length(q.value) + 1)) = '.' || q.value))`;

const takenOver = (id: number) =>
  new ReportError('IN_PROGRESS', 'another import took this report over (this one was loading for longer than an hour); its rows are the ones kept', { id });

export class SqliteReceivedReports implements ReceivedReportStore {
  readonly #db: DatabaseSync;

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  async beginDmarc(header: AggregateHeader, meta: ImportMeta): Promise<BeginResult> {
    const db = this.#db;
    const reporter = reporterKey(header.orgName);
    const claimed = transaction(db, () => {
      const existing = db
        .prepare('SELECT id, state, source, imported_at FROM received_dmarc_reports WHERE reporter = ? AND report_id = ? AND policy_domain = ?')
        .get(reporter, header.reportId, header.policy.domain) as { id: number; state: string; source: string; imported_at: number } | undefined;
      if (existing) {
        const found = { importedAt: Number(existing.imported_at), source: existing.source };
        if (existing.state === 'complete') return { kind: 'duplicate' as const, ...found };
        if (meta.importedAt - found.importedAt < STALE_IMPORT_MS) return { kind: 'in-progress' as const, ...found };
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
    if (claimed.kind !== 'new') return claimed;
    const id = claimed.id;
    const loading = db.prepare("SELECT 1 FROM received_dmarc_reports WHERE id = ? AND state = 'loading'");
    const insert = db.prepare('INSERT INTO received_dmarc_rows (report, source_ip, count, disposition, dkim, spf, header_from, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
    return {
      kind: 'new',
      sink: {
        rows: async (batch) => {
          transaction(db, () => {
            if (!loading.get(id)) throw takenOver(id);
            for (const r of batch) insert.run(id, r.sourceIp, r.count, r.disposition, r.dkim, r.spf, r.headerFrom, JSON.stringify(rowDetail(r)));
          });
        },
        commit: async (stats, warnings) => {
          transaction(db, () => {
            const res = db
              .prepare("UPDATE received_dmarc_reports SET state = 'complete', row_count = ?, message_count = ?, stats = ?, warnings = ? WHERE id = ? AND state = 'loading'")
              .run(stats.rows, stats.messages, JSON.stringify(stats), JSON.stringify(warnings), id);
            if (Number(res.changes) !== 1) throw takenOver(id);
          });
        },
        abort: async () => {
          transaction(db, () => db.prepare("DELETE FROM received_dmarc_reports WHERE id = ? AND state = 'loading'").run(id));
          return undefined;
        },
      },
    };
  }

  async addTls(report: TlsReport, meta: ImportMeta): Promise<'stored' | 'duplicate'> {
    const domains = JSON.stringify([...new Set(report.policies.map((p) => p.policyDomain))].sort());
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
    const domains = JSON.stringify(query.domains);
    const list = db.prepare(
      `SELECT id, begin_at, header, stats, warnings, source, imported_at FROM received_dmarc_reports
       WHERE state = 'complete' AND end_at >= ? AND begin_at < ? AND (begin_at, id) > (?, ?) AND ${inDomains('policy_domain')}
       ORDER BY begin_at, id LIMIT ?`,
    );
    const page = db.prepare('SELECT rowid, source_ip, count, disposition, dkim, spf, header_from, detail FROM received_dmarc_rows WHERE report = ? AND rowid > ? ORDER BY rowid LIMIT ?');
    let after: readonly [number, number] = BEFORE_ALL;
    for (;;) {
      const reports = list.all(query.from, query.to, after[0], after[1], domains, domains, REPORT_PAGE) as { id: number; begin_at: number; header: string; stats: string; warnings: string; source: string; imported_at: number }[];
      for (const r of reports) {
        const report: StoredDmarcReport = {
          header: JSON.parse(r.header) as AggregateHeader,
          stats: JSON.parse(r.stats) as AggregateStats,
          warnings: JSON.parse(r.warnings) as string[],
          source: r.source,
          importedAt: Number(r.imported_at),
        };
        async function* rows(): AsyncGenerator<readonly AggregateRow[]> {
          let last = 0;
          for (;;) {
            const got = page.all(r.id, last, ROW_PAGE) as { rowid: number; source_ip: string; count: number; disposition: string; dkim: string; spf: string; header_from: string; detail: string }[];
            if (got.length === 0) return;
            last = got.at(-1)!.rowid;
            yield got.map((g) => rowFrom(g, JSON.parse(g.detail) as RowDetail));
            if (got.length < ROW_PAGE) return;
          }
        }
        yield { report, rows: rows() };
      }
      if (reports.length < REPORT_PAGE) return;
      after = [reports.at(-1)!.begin_at, reports.at(-1)!.id];
    }
  }

  async *tls(query: HistoryQuery): AsyncIterable<StoredTlsReport> {
    const domains = JSON.stringify(query.domains);
    const list = this.#db.prepare(
      `SELECT t.id, t.begin_at, t.report, t.source, t.imported_at FROM received_tls_reports t
       WHERE t.end_at >= ? AND t.begin_at < ? AND (t.begin_at, t.id) > (?, ?)
         AND (json_array_length(?) = 0 OR EXISTS (SELECT 1 FROM json_each(t.policy_domains) p, json_each(?) q
              WHERE p.value = q.value OR substr(p.value, -(length(q.value) + 1)) = '.' || q.value))
       ORDER BY t.begin_at, t.id LIMIT ?`,
    );
    let after: readonly [number, number] = BEFORE_ALL;
    for (;;) {
      const rows = list.all(query.from, query.to, after[0], after[1], domains, domains, REPORT_PAGE) as { id: number; begin_at: number; report: string; source: string; imported_at: number }[];
      for (const r of rows) yield { report: JSON.parse(r.report) as TlsReport, source: r.source, importedAt: Number(r.imported_at) };
      if (rows.length < REPORT_PAGE) return;
      after = [rows.at(-1)!.begin_at, rows.at(-1)!.id];
    }
  }

  async prune(before: number, now: number): Promise<PruneResult> {
    return transaction(this.#db, () => ({
      dmarc: Number(
        this.#db
          .prepare("DELETE FROM received_dmarc_reports WHERE (state = 'complete' AND end_at < ?) OR (state = 'loading' AND imported_at <= ?)")
          .run(before, now - STALE_IMPORT_MS).changes,
      ),
      tls: Number(this.#db.prepare('DELETE FROM received_tls_reports WHERE end_at < ?').run(before).changes),
    }));
  }

  async counts(): Promise<HistoryCounts> {
    const d = this.#db.prepare("SELECT COUNT(*) AS n, COALESCE(SUM(row_count), 0) AS rows, MIN(begin_at) AS a, MAX(end_at) AS b FROM received_dmarc_reports WHERE state = 'complete'").get() as { n: number; rows: number; a: number | null; b: number | null };
    const t = this.#db.prepare('SELECT COUNT(*) AS n, MIN(begin_at) AS a, MAX(end_at) AS b FROM received_tls_reports').get() as { n: number; a: number | null; b: number | null };
    return historyCounts({ dmarc: Number(d.n), tls: Number(t.n), rows: Number(d.rows), firsts: [d.a, t.a], lasts: [d.b, t.b] });
  }
}
