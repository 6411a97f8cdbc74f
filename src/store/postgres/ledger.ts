/** The report ledger over PostgreSQL: shared by every host's `report send`, so each report goes out once. */
import type { Bounce, Delivery, DeliveryState, NewReport, ReportLedger, StoredReport, Suppression } from '../../reports/ledger.ts';
import type { PgPool } from './pool.ts';

const REPORT_COLS = 'report_id AS "reportId", policy_domain AS "policyDomain", begin_at AS "beginAt", end_at AS "endAt", created_at AS "createdAt", file_name AS "fileName", message_count AS "messageCount", record_count AS "recordCount"';
const DELIVERY_COLS = 'report_id AS "reportId", address, uri, state, attempts, reason, sent_at AS "sentAt"';

const num = (v: unknown): number => Number(v);
const report = (r: Record<string, unknown>): StoredReport => ({
  reportId: String(r['reportId']), policyDomain: String(r['policyDomain']), beginAt: num(r['beginAt']), endAt: num(r['endAt']),
  createdAt: num(r['createdAt']), fileName: String(r['fileName']), messageCount: num(r['messageCount']), recordCount: num(r['recordCount']),
});
const delivery = (r: Record<string, unknown>): Delivery => ({
  reportId: String(r['reportId']), address: String(r['address']), uri: String(r['uri']), state: r['state'] as DeliveryState,
  attempts: num(r['attempts']), reason: (r['reason'] as string | null) ?? null, sentAt: r['sentAt'] === null ? null : num(r['sentAt']),
});

export class PgLedger implements ReportLedger {
  readonly #pool: PgPool;

  constructor(pool: PgPool) {
    this.#pool = pool;
  }

  async reportedUntil(): Promise<Map<string, number>> {
    const r = await this.#pool.query<{ d: string; e: string }>('SELECT policy_domain AS d, MAX(end_at) AS e FROM dmarc_reports GROUP BY policy_domain', [], 'cannot read the report ledger');
    return new Map(r.rows.map((x) => [x.d, Number(x.e) * 1000]));
  }

  async insertReport(r: NewReport, now: number): Promise<boolean> {
    return this.#pool.transaction(async (c) => {
      // Two hosts building the same (domain, period): the second waits on the unique index, then does nothing.
      const res = await c.query(
        'INSERT INTO dmarc_reports (report_id, policy_domain, begin_at, end_at, created_at, file_name, message_count, record_count, xml_gz) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (policy_domain, begin_at) DO NOTHING',
        [r.reportId, r.policyDomain, r.beginAt, r.endAt, now, r.fileName, r.messageCount, r.recordCount, r.xmlGz],
      );
      if (res.rowCount !== 1) return false;
      for (const d of r.deliveries) {
        await c.query('INSERT INTO dmarc_report_deliveries (report_id, address, uri, state, reason, updated_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING', [r.reportId, d.address, d.uri, d.state, d.reason ?? null, now]);
      }
      return true;
    }, 'cannot store the report');
  }

  async listReports(): Promise<StoredReport[]> {
    const r = await this.#pool.query(`SELECT ${REPORT_COLS} FROM dmarc_reports ORDER BY begin_at, policy_domain`, [], 'cannot list reports');
    return r.rows.map(report);
  }

  async reportXmlGz(reportId: string): Promise<Buffer | undefined> {
    const r = await this.#pool.query<{ x: Buffer }>('SELECT xml_gz AS x FROM dmarc_reports WHERE report_id = $1', [reportId], 'cannot read the report');
    return r.rows[0]?.x;
  }

  async listDeliveries(filter: { readonly state?: DeliveryState } = {}): Promise<Delivery[]> {
    const r = filter.state
      ? await this.#pool.query(`SELECT ${DELIVERY_COLS} FROM dmarc_report_deliveries WHERE state = $1 ORDER BY report_id, address`, [filter.state], 'cannot list deliveries')
      : await this.#pool.query(`SELECT ${DELIVERY_COLS} FROM dmarc_report_deliveries ORDER BY report_id, address`, [], 'cannot list deliveries');
    return r.rows.map(delivery);
  }

  async claimDelivery(reportId: string, address: string, now: number, leaseMs: number): Promise<boolean> {
    // Of two hosts claiming at once, the second's UPDATE waits for the first's commit and then no longer matches.
    const r = await this.#pool.query(
      "UPDATE dmarc_report_deliveries SET attempts = attempts + 1, claimed_until = $1, updated_at = $2 WHERE report_id = $3 AND address = $4 AND state = 'pending' AND claimed_until <= $2",
      [now + leaseMs, now, reportId, address],
      'cannot claim the delivery',
    );
    return r.rowCount === 1;
  }

  async markSent(reportId: string, address: string, now: number, response: string): Promise<void> {
    await this.#pool.query("UPDATE dmarc_report_deliveries SET state = 'sent', sent_at = $1, updated_at = $1, reason = $2, claimed_until = 0 WHERE report_id = $3 AND address = $4", [now, response, reportId, address], 'cannot mark the delivery sent');
  }

  async markSkipped(reportId: string, address: string, now: number, reason: string): Promise<void> {
    await this.#pool.query("UPDATE dmarc_report_deliveries SET state = 'skipped', updated_at = $1, reason = $2, claimed_until = 0 WHERE report_id = $3 AND address = $4", [now, reason, reportId, address], 'cannot mark the delivery skipped');
  }

  async markFailed(reportId: string, address: string, now: number, reason: string): Promise<void> {
    await this.#pool.query('UPDATE dmarc_report_deliveries SET updated_at = $1, reason = $2, claimed_until = 0 WHERE report_id = $3 AND address = $4', [now, reason, reportId, address], 'cannot record the delivery failure');
  }

  async listSuppressions(): Promise<Suppression[]> {
    const r = await this.#pool.query<{ entry: string; reason: string; addedAt: string }>('SELECT entry, reason, added_at AS "addedAt" FROM dmarc_report_suppressions ORDER BY entry', [], 'cannot list suppressions');
    return r.rows.map((x) => ({ entry: x.entry, reason: x.reason, addedAt: Number(x.addedAt) }));
  }

  async addSuppression(entry: string, reason: string, now: number): Promise<void> {
    await this.#pool.query('INSERT INTO dmarc_report_suppressions (entry, reason, added_at) VALUES ($1, $2, $3) ON CONFLICT (entry) DO NOTHING', [entry.toLowerCase(), reason, now], 'cannot add the suppression');
  }

  async removeSuppression(entry: string): Promise<boolean> {
    return this.#pool.transaction(async (c) => {
      const r = await c.query('DELETE FROM dmarc_report_suppressions WHERE entry = $1', [entry.toLowerCase()]);
      await c.query('DELETE FROM dmarc_report_bounces WHERE address = $1', [entry.toLowerCase()]);
      return (r.rowCount ?? 0) > 0;
    }, 'cannot remove the suppression');
  }

  async recordBounce(address: string, now: number, reason: string): Promise<number> {
    const r = await this.#pool.query<{ count: number }>(
      'INSERT INTO dmarc_report_bounces (address, count, last_at, last_reason) VALUES ($1, 1, $2, $3) ON CONFLICT (address) DO UPDATE SET count = dmarc_report_bounces.count + 1, last_at = EXCLUDED.last_at, last_reason = EXCLUDED.last_reason RETURNING count',
      [address.toLowerCase(), now, reason],
      'cannot count the bounce',
    );
    return Number(r.rows[0]!.count);
  }

  async listBounces(): Promise<Bounce[]> {
    const r = await this.#pool.query<{ address: string; count: number; lastAt: string; lastReason: string }>('SELECT address, count, last_at AS "lastAt", last_reason AS "lastReason" FROM dmarc_report_bounces ORDER BY address', [], 'cannot list bounces');
    return r.rows.map((x) => ({ address: x.address, count: Number(x.count), lastAt: Number(x.lastAt), lastReason: x.lastReason }));
  }

  async pruneReports(olderThan: number): Promise<number> {
    const r = await this.#pool.query(
      "DELETE FROM dmarc_reports WHERE created_at < $1 AND NOT EXISTS (SELECT 1 FROM dmarc_report_deliveries d WHERE d.report_id = dmarc_reports.report_id AND d.state = 'pending')",
      [olderThan],
      'cannot prune reports',
    );
    return r.rowCount ?? 0;
  }
}
