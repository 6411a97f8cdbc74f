/** The report ledger over the SQLite file (store/sqlite/schema.ts `dmarc_reports`). */
import type { DatabaseSync } from 'node:sqlite';
import type { Bounce, Delivery, DeliveryState, NewReport, ReportLedger, StoredReport, Suppression } from '../../reports/ledger.ts';
import { transaction } from './database.ts';

const REPORT_COLS = 'report_id AS reportId, policy_domain AS policyDomain, begin_at AS beginAt, end_at AS endAt, created_at AS createdAt, file_name AS fileName, message_count AS messageCount, record_count AS recordCount';
const DELIVERY_COLS = 'report_id AS reportId, address, uri, state, attempts, reason, sent_at AS sentAt';

export class SqliteLedger implements ReportLedger {
  readonly #db: DatabaseSync;

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  #write<T>(fn: () => T): T {
    return transaction(this.#db, fn);
  }

  async reportedUntil(): Promise<Map<string, number>> {
    const rows = this.#db.prepare('SELECT policy_domain AS d, MAX(end_at) AS e FROM dmarc_reports GROUP BY policy_domain').all() as { d: string; e: number }[];
    return new Map(rows.map((r) => [r.d, Number(r.e) * 1000]));
  }

  async insertReport(r: NewReport, now: number): Promise<boolean> {
    const db = this.#db;
    return this.#write(() => {
      const res = db
        .prepare('INSERT INTO dmarc_reports (report_id, policy_domain, begin_at, end_at, created_at, file_name, message_count, record_count, xml_gz) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (policy_domain, begin_at) DO NOTHING')
        .run(r.reportId, r.policyDomain, r.beginAt, r.endAt, now, r.fileName, r.messageCount, r.recordCount, r.xmlGz);
      if (Number(res.changes) !== 1) return false;
      const ins = db.prepare('INSERT OR IGNORE INTO dmarc_report_deliveries (report_id, address, uri, state, reason, updated_at) VALUES (?, ?, ?, ?, ?, ?)');
      for (const d of r.deliveries) ins.run(r.reportId, d.address, d.uri, d.state, d.reason ?? null, now);
      return true;
    });
  }

  async listReports(): Promise<StoredReport[]> {
    return this.#db.prepare(`SELECT ${REPORT_COLS} FROM dmarc_reports ORDER BY begin_at, policy_domain`).all() as unknown as StoredReport[];
  }

  async reportXmlGz(reportId: string): Promise<Buffer | undefined> {
    const row = this.#db.prepare('SELECT xml_gz AS x FROM dmarc_reports WHERE report_id = ?').get(reportId) as { x: Uint8Array } | undefined;
    return row ? Buffer.from(row.x) : undefined;
  }

  async listDeliveries(filter: { readonly state?: DeliveryState } = {}): Promise<Delivery[]> {
    const stmt = this.#db.prepare(`SELECT ${DELIVERY_COLS} FROM dmarc_report_deliveries${filter.state ? ' WHERE state = ?' : ''} ORDER BY report_id, address`);
    return (filter.state ? stmt.all(filter.state) : stmt.all()) as unknown as Delivery[];
  }

  async claimDelivery(reportId: string, address: string, now: number, leaseMs: number): Promise<boolean> {
    return this.#write(() => {
      const res = this.#db
        .prepare("UPDATE dmarc_report_deliveries SET attempts = attempts + 1, claimed_until = ?, updated_at = ? WHERE report_id = ? AND address = ? AND state = 'pending' AND claimed_until <= ?")
        .run(now + leaseMs, now, reportId, address, now);
      return Number(res.changes) === 1;
    });
  }

  async markSent(reportId: string, address: string, now: number, response: string): Promise<void> {
    this.#write(() => this.#db.prepare("UPDATE dmarc_report_deliveries SET state = 'sent', sent_at = ?, updated_at = ?, reason = ?, claimed_until = 0 WHERE report_id = ? AND address = ?").run(now, now, response, reportId, address));
  }

  async markSkipped(reportId: string, address: string, now: number, reason: string): Promise<void> {
    this.#write(() => this.#db.prepare("UPDATE dmarc_report_deliveries SET state = 'skipped', updated_at = ?, reason = ?, claimed_until = 0 WHERE report_id = ? AND address = ?").run(now, reason, reportId, address));
  }

  async markFailed(reportId: string, address: string, now: number, reason: string): Promise<void> {
    this.#write(() => this.#db.prepare('UPDATE dmarc_report_deliveries SET updated_at = ?, reason = ?, claimed_until = 0 WHERE report_id = ? AND address = ?').run(now, reason, reportId, address));
  }

  async listSuppressions(): Promise<Suppression[]> {
    return this.#db.prepare('SELECT entry, reason, added_at AS addedAt FROM dmarc_report_suppressions ORDER BY entry').all() as unknown as Suppression[];
  }

  async addSuppression(entry: string, reason: string, now: number): Promise<void> {
    this.#write(() => this.#db.prepare('INSERT INTO dmarc_report_suppressions (entry, reason, added_at) VALUES (?, ?, ?) ON CONFLICT(entry) DO NOTHING').run(entry.toLowerCase(), reason, now));
  }

  async removeSuppression(entry: string): Promise<boolean> {
    return this.#write(() => {
      const n = Number(this.#db.prepare('DELETE FROM dmarc_report_suppressions WHERE entry = ?').run(entry.toLowerCase()).changes);
      this.#db.prepare('DELETE FROM dmarc_report_bounces WHERE address = ?').run(entry.toLowerCase());
      return n > 0;
    });
  }

  async recordBounce(address: string, now: number, reason: string): Promise<number> {
    return this.#write(() => {
      this.#db
        .prepare('INSERT INTO dmarc_report_bounces (address, count, last_at, last_reason) VALUES (?, 1, ?, ?) ON CONFLICT(address) DO UPDATE SET count = count + 1, last_at = excluded.last_at, last_reason = excluded.last_reason')
        .run(address.toLowerCase(), now, reason);
      return Number((this.#db.prepare('SELECT count FROM dmarc_report_bounces WHERE address = ?').get(address.toLowerCase()) as { count: number }).count);
    });
  }

  async listBounces(): Promise<Bounce[]> {
    return this.#db.prepare('SELECT address, count, last_at AS lastAt, last_reason AS lastReason FROM dmarc_report_bounces ORDER BY address').all() as unknown as Bounce[];
  }

  async pruneReports(olderThan: number): Promise<number> {
    return this.#write(() =>
      Number(
        this.#db
          .prepare("DELETE FROM dmarc_reports WHERE created_at < ? AND NOT EXISTS (SELECT 1 FROM dmarc_report_deliveries d WHERE d.report_id = dmarc_reports.report_id AND d.state = 'pending')")
          .run(olderThan).changes,
      ),
    );
  }
}
