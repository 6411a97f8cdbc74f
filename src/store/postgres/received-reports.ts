/**
 * PostgreSQL adapter of the received-reports port (`src/reports/received/store.ts`), tables
 * of store/postgres/schema.ts `received_reports`: one history for every host of a fleet, so
 * `report import` may run on any of them (or on all, from one mailbox) and `report page` on
 * any shows the same thing.
 *
 * Two hosts importing the same report at once: the claim is one `INSERT … ON CONFLICT DO
 * NOTHING` on the (reporter, report id, policy domain) key — the second host's insert waits
 * for the first's commit, then does nothing, and it reports a duplicate. A died import's
 * `loading` row is deleted and re-claimed in the same transaction. Each batch of rows is one
 * statement (`unnest`, eight parameters whatever the batch size) that inserts only while the
 * report is still this import's (`FOR SHARE` on its row), so a taken-over import cannot mix
 * its rows into the new one's.
 */
import { ReportError } from '../../reports/errors.ts';
import type { AggregateStats } from '../../reports/read/aggregate-parser.ts';
import { reporterKey, type AggregateHeader, type AggregateRow, type TlsReport } from '../../reports/read/model.ts';
import { STALE_IMPORT_MS, type BeginResult, type HistoryCounts, type HistoryQuery, type ImportMeta, type PruneResult, type ReceivedReportStore, type StoredDmarcReport, type StoredTlsReport } from '../../reports/received/store.ts';
import { BEFORE_ALL, historyCounts, rowDetail, rowFrom, type RowColumns, type RowDetail } from '../received-shape.ts';
import { StoreError } from '../errors.ts';
import type { PgPool } from './pool.ts';

const REPORT_PAGE = 500;
const ROW_PAGE = 5000;

/** `$n` (a text[]) is empty, or `domain` is one of its domains or below one. */
const inDomains = (domain: string, n: number) =>
  `(cardinality($${n}::text[]) = 0 OR EXISTS (SELECT 1 FROM unnest($${n}::text[]) q WHERE ${domain} = q OR right(${domain}, length(q) + 1) = '.' || q))`;

const takenOver = (id: string) =>
  new ReportError('IN_PROGRESS', 'another import took this report over (this one was loading for longer than an hour); its rows are the ones kept', { id });

export class PgReceivedReports implements ReceivedReportStore {
  readonly #pool: PgPool;

  constructor(pool: PgPool) {
    this.#pool = pool;
  }

  async beginDmarc(header: AggregateHeader, meta: ImportMeta): Promise<BeginResult> {
    const key = [reporterKey(header.orgName), header.reportId, header.policy.domain];
    const pool = this.#pool;
    const claimed = await pool.transaction(async (c) => {
      // A claim that vanishes between our insert and our look (its import aborted) is tried again.
      for (let attempt = 0; attempt < 3; attempt++) {
        await c.query(
          "DELETE FROM received_dmarc_reports WHERE reporter = $1 AND report_id = $2 AND policy_domain = $3 AND state = 'loading' AND imported_at <= $4",
          [...key, meta.importedAt - STALE_IMPORT_MS],
        );
        const ins = await c.query<{ id: string }>(
          `INSERT INTO received_dmarc_reports (reporter, report_id, policy_domain, begin_at, end_at, header, state, source, imported_at)
           VALUES ($1, $2, $3, $4, $5, $6, 'loading', $7, $8) ON CONFLICT (reporter, report_id, policy_domain) DO NOTHING RETURNING id`,
          [...key, header.begin, header.end, JSON.stringify(header), meta.source, meta.importedAt],
        );
        if (ins.rows[0]) return { kind: 'new' as const, id: String(ins.rows[0].id) };
        const ex = await c.query<{ state: string; source: string; imported_at: string }>('SELECT state, source, imported_at FROM received_dmarc_reports WHERE reporter = $1 AND report_id = $2 AND policy_domain = $3', key);
        const found = ex.rows[0];
        if (found) return { kind: found.state === 'complete' ? ('duplicate' as const) : ('in-progress' as const), importedAt: Number(found.imported_at), source: found.source };
      }
      // Claimed and given up three times over by other imports: not ours to call a duplicate
      // (it is not stored); a transient failure, so the mail stays and the next run retries.
      throw new StoreError('BUSY', `${pool.location}: received report ${header.reportId} keeps being claimed and abandoned by other imports`, { store: pool.location });
    }, 'cannot claim the received report');
    if (claimed.kind !== 'new') return claimed;
    const id = claimed.id;
    return {
      kind: 'new',
      sink: {
        async rows(batch) {
          if (batch.length === 0) return;
          const r = await pool.query(
            `WITH mine AS (SELECT id FROM received_dmarc_reports WHERE id = $1 AND state = 'loading' FOR SHARE)
             INSERT INTO received_dmarc_rows (report, source_ip, count, disposition, dkim, spf, header_from, detail)
             SELECT mine.id, u.ip, u.n, u.disposition, u.dkim, u.spf, u.header_from, u.detail
             FROM mine, unnest($2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::json[])
               WITH ORDINALITY AS u(ip, n, disposition, dkim, spf, header_from, detail, ord)
             ORDER BY u.ord`,
            [
              id,
              batch.map((x) => x.sourceIp),
              batch.map((x) => x.count),
              batch.map((x) => x.disposition),
              batch.map((x) => x.dkim),
              batch.map((x) => x.spf),
              batch.map((x) => x.headerFrom),
              batch.map((x) => JSON.stringify(rowDetail(x))),
            ],
            'cannot store received report records',
          );
          if (r.rowCount !== batch.length) throw takenOver(id);
        },
        async commit(stats, warnings) {
          const r = await pool.query(
            "UPDATE received_dmarc_reports SET state = 'complete', row_count = $2, message_count = $3, stats = $4, warnings = $5 WHERE id = $1 AND state = 'loading'",
            [id, stats.rows, stats.messages, JSON.stringify(stats), JSON.stringify(warnings)],
            'cannot complete the received report',
          );
          if (r.rowCount !== 1) throw takenOver(id);
        },
        async abort() {
          await pool.query("DELETE FROM received_dmarc_reports WHERE id = $1 AND state = 'loading'", [id], 'cannot remove the unfinished received report');
          return undefined;
        },
      },
    };
  }

  async addTls(report: TlsReport, meta: ImportMeta): Promise<'stored' | 'duplicate'> {
    const r = await this.#pool.query(
      `INSERT INTO received_tls_reports (reporter, report_id, begin_at, end_at, policy_domains, report, source, imported_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (reporter, report_id) DO NOTHING`,
      [reporterKey(report.orgName), report.reportId, report.begin, report.end, [...new Set(report.policies.map((p) => p.policyDomain))].sort(), JSON.stringify(report), meta.source, meta.importedAt],
      'cannot store the received TLS report',
    );
    return r.rowCount === 1 ? 'stored' : 'duplicate';
  }

  async *dmarc(query: HistoryQuery): AsyncIterable<{ report: StoredDmarcReport; rows: AsyncIterable<readonly AggregateRow[]> }> {
    const pool = this.#pool;
    let after: readonly [number | string, number | string] = BEFORE_ALL;
    for (;;) {
      const page = await pool.query<{ id: string; begin_at: string; header: AggregateHeader; stats: AggregateStats; warnings: string[]; source: string; imported_at: string }>(
        `SELECT id, begin_at, header, stats, warnings, source, imported_at FROM received_dmarc_reports
         WHERE state = 'complete' AND end_at >= $1 AND begin_at < $2 AND (begin_at, id) > ($3, $4) AND ${inDomains('policy_domain', 5)}
         ORDER BY begin_at, id LIMIT $6`,
        [query.from, query.to, after[0], after[1], query.domains, REPORT_PAGE],
        'cannot read received reports',
      );
      for (const r of page.rows) {
        // `json` columns arrive parsed.
        const report: StoredDmarcReport = { header: r.header, stats: r.stats, warnings: r.warnings, source: r.source, importedAt: Number(r.imported_at) };
        async function* rows(): AsyncGenerator<readonly AggregateRow[]> {
          let last = '0';
          for (;;) {
            const got = await pool.query<RowColumns & { id: string; detail: RowDetail }>(
              'SELECT id, source_ip, count, disposition, dkim, spf, header_from, detail FROM received_dmarc_rows WHERE report = $1 AND id > $2 ORDER BY id LIMIT $3',
              [r.id, last, ROW_PAGE],
              'cannot read received report records',
            );
            if (got.rows.length === 0) return;
            last = got.rows.at(-1)!.id;
            yield got.rows.map((g) => rowFrom(g, g.detail));
            if (got.rows.length < ROW_PAGE) return;
          }
        }
        yield { report, rows: rows() };
      }
      if (page.rows.length < REPORT_PAGE) return;
      after = [page.rows.at(-1)!.begin_at, page.rows.at(-1)!.id];
    }
  }

  async *tls(query: HistoryQuery): AsyncIterable<StoredTlsReport> {
    let after: readonly [number | string, number | string] = BEFORE_ALL;
    for (;;) {
      const page = await this.#pool.query<{ id: string; begin_at: string; report: TlsReport; source: string; imported_at: string }>(
        `SELECT t.id, t.begin_at, t.report, t.source, t.imported_at FROM received_tls_reports t
         WHERE t.end_at >= $1 AND t.begin_at < $2 AND (t.begin_at, t.id) > ($3, $4)
           AND (cardinality($5::text[]) = 0 OR EXISTS (SELECT 1 FROM unnest(t.policy_domains) p, unnest($5::text[]) q
                WHERE p = q OR right(p, length(q) + 1) = '.' || q))
         ORDER BY t.begin_at, t.id LIMIT $6`,
        [query.from, query.to, after[0], after[1], query.domains, REPORT_PAGE],
        'cannot read received TLS reports',
      );
      for (const r of page.rows) yield { report: r.report, source: r.source, importedAt: Number(r.imported_at) };
      if (page.rows.length < REPORT_PAGE) return;
      after = [page.rows.at(-1)!.begin_at, page.rows.at(-1)!.id];
    }
  }

  async prune(before: number, now: number): Promise<PruneResult> {
    return this.#pool.transaction(async (c) => {
      const d = await c.query("DELETE FROM received_dmarc_reports WHERE (state = 'complete' AND end_at < $1) OR (state = 'loading' AND imported_at <= $2)", [before, now - STALE_IMPORT_MS]);
      const t = await c.query('DELETE FROM received_tls_reports WHERE end_at < $1', [before]);
      return { dmarc: d.rowCount ?? 0, tls: t.rowCount ?? 0 };
    }, 'cannot prune received reports');
  }

  async counts(): Promise<HistoryCounts> {
    const d = await this.#pool.query<{ n: string; rows: string; a: string | null; b: string | null }>(
      "SELECT COUNT(*) AS n, COALESCE(SUM(row_count), 0) AS rows, MIN(begin_at) AS a, MAX(end_at) AS b FROM received_dmarc_reports WHERE state = 'complete'",
      [],
      'cannot count received reports',
    );
    const t = await this.#pool.query<{ n: string; a: string | null; b: string | null }>('SELECT COUNT(*) AS n, MIN(begin_at) AS a, MAX(end_at) AS b FROM received_tls_reports', [], 'cannot count received TLS reports');
    const dr = d.rows[0]!;
    const tr = t.rows[0]!;
    return historyCounts({ dmarc: Number(dr.n), tls: Number(tr.n), rows: Number(dr.rows), firsts: [dr.a, tr.a], lasts: [dr.b, tr.b] });
  }
}
