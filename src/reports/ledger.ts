/**
 * The report ledger (tables owned by the reports feature): generated reports with their
 * gzipped XML, one delivery row per (report, destination) whose state moves
 * pending → sent | skipped, the suppression list and bounce counts.
 * "Sent" is written only after the MTA accepted the message; a row is claimed inside a
 * write transaction before the hand-off so two concurrent runs never send it twice.
 */
import type { DatabaseSync } from 'node:sqlite';
import { migrate, transaction } from '../store/database.ts';

const SCHEMA = [
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
];

export function migrateLedger(db: DatabaseSync): void {
  migrate(db, 'dmarc_reports', SCHEMA);
}

export interface StoredReport {
  readonly reportId: string;
  readonly policyDomain: string;
  readonly beginAt: number; // s
  readonly endAt: number; // s
  readonly createdAt: number; // ms
  readonly fileName: string;
  readonly messageCount: number;
  readonly recordCount: number;
}

export type DeliveryState = 'pending' | 'sent' | 'skipped';
export interface Delivery {
  readonly reportId: string;
  readonly address: string;
  readonly uri: string;
  readonly state: DeliveryState;
  readonly attempts: number;
  readonly reason: string | null;
  readonly sentAt: number | null;
}

/** Per policy domain, the end (ms) of the latest stored report. */
export function reportedUntil(db: DatabaseSync): Map<string, number> {
  const rows = db.prepare('SELECT policy_domain AS d, MAX(end_at) AS e FROM dmarc_reports GROUP BY policy_domain').all() as { d: string; e: number }[];
  return new Map(rows.map((r) => [r.d, r.e * 1000]));
}

export interface NewReport extends Omit<StoredReport, 'createdAt'> {
  readonly xmlGz: Buffer;
  readonly deliveries: readonly { address: string; uri: string; state: DeliveryState; reason?: string }[];
}

/**
 * Stores a report and its delivery rows in one transaction (all or nothing). Returns false
 * when a report for the same (domain, period start) exists already: another run made it
 * between our read and this write, and theirs stands.
 */
export function insertReport(db: DatabaseSync, r: NewReport, now: number): boolean {
  return transaction(db, () => {
    const res = db
      .prepare(
        'INSERT INTO dmarc_reports (report_id, policy_domain, begin_at, end_at, created_at, file_name, message_count, record_count, xml_gz) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (policy_domain, begin_at) DO NOTHING',
      )
      .run(r.reportId, r.policyDomain, r.beginAt, r.endAt, now, r.fileName, r.messageCount, r.recordCount, r.xmlGz);
    if (Number(res.changes) !== 1) return false;
    const ins = db.prepare('INSERT OR IGNORE INTO dmarc_report_deliveries (report_id, address, uri, state, reason, updated_at) VALUES (?, ?, ?, ?, ?, ?)');
    for (const d of r.deliveries) ins.run(r.reportId, d.address, d.uri, d.state, d.reason ?? null, now);
    return true;
  });
}

const REPORT_COLS = 'report_id AS reportId, policy_domain AS policyDomain, begin_at AS beginAt, end_at AS endAt, created_at AS createdAt, file_name AS fileName, message_count AS messageCount, record_count AS recordCount';
const DELIVERY_COLS = 'report_id AS reportId, address, uri, state, attempts, reason, sent_at AS sentAt';

export function listReports(db: DatabaseSync): StoredReport[] {
  return db.prepare(`SELECT ${REPORT_COLS} FROM dmarc_reports ORDER BY begin_at, policy_domain`).all() as unknown as StoredReport[];
}

export function reportXmlGz(db: DatabaseSync, reportId: string): Buffer | undefined {
  const row = db.prepare('SELECT xml_gz AS x FROM dmarc_reports WHERE report_id = ?').get(reportId) as { x: Uint8Array } | undefined;
  return row ? Buffer.from(row.x) : undefined;
}

export function listDeliveries(db: DatabaseSync, filter: { state?: DeliveryState } = {}): Delivery[] {
  const sql = `SELECT ${DELIVERY_COLS} FROM dmarc_report_deliveries${filter.state ? ' WHERE state = ?' : ''} ORDER BY report_id, address`;
  const stmt = db.prepare(sql);
  return (filter.state ? stmt.all(filter.state) : stmt.all()) as unknown as Delivery[];
}

/**
 * Claims a pending delivery for `leaseMs` (attempts + 1). Returns false when it is no longer
 * pending or another run holds it. The lease only protects against a concurrent run; a run
 * that dies mid hand-off leaves the row pending, so it is retried after the lease.
 */
export function claimDelivery(db: DatabaseSync, reportId: string, address: string, now: number, leaseMs: number): boolean {
  return transaction(db, () => {
    const res = db
      .prepare("UPDATE dmarc_report_deliveries SET attempts = attempts + 1, claimed_until = ?, updated_at = ? WHERE report_id = ? AND address = ? AND state = 'pending' AND claimed_until <= ?")
      .run(now + leaseMs, now, reportId, address, now);
    return Number(res.changes) === 1;
  });
}

export function markSent(db: DatabaseSync, reportId: string, address: string, now: number, response: string): void {
  db.prepare("UPDATE dmarc_report_deliveries SET state = 'sent', sent_at = ?, updated_at = ?, reason = ?, claimed_until = 0 WHERE report_id = ? AND address = ?").run(now, now, response, reportId, address);
}

export function markSkipped(db: DatabaseSync, reportId: string, address: string, now: number, reason: string): void {
  db.prepare("UPDATE dmarc_report_deliveries SET state = 'skipped', updated_at = ?, reason = ?, claimed_until = 0 WHERE report_id = ? AND address = ?").run(now, reason, reportId, address);
}

/** Leaves the row pending (retried next run) with the reason of this failure. */
export function markFailed(db: DatabaseSync, reportId: string, address: string, now: number, reason: string): void {
  db.prepare('UPDATE dmarc_report_deliveries SET updated_at = ?, reason = ?, claimed_until = 0 WHERE report_id = ? AND address = ?').run(now, reason, reportId, address);
}

export function listSuppressions(db: DatabaseSync): { entry: string; reason: string; addedAt: number }[] {
  return db.prepare('SELECT entry, reason, added_at AS addedAt FROM dmarc_report_suppressions ORDER BY entry').all() as { entry: string; reason: string; addedAt: number }[];
}

export function addSuppression(db: DatabaseSync, entry: string, reason: string, now: number): void {
  db.prepare('INSERT INTO dmarc_report_suppressions (entry, reason, added_at) VALUES (?, ?, ?) ON CONFLICT(entry) DO NOTHING').run(entry.toLowerCase(), reason, now);
}

export function removeSuppression(db: DatabaseSync, entry: string): boolean {
  const n = Number(db.prepare('DELETE FROM dmarc_report_suppressions WHERE entry = ?').run(entry.toLowerCase()).changes);
  db.prepare('DELETE FROM dmarc_report_bounces WHERE address = ?').run(entry.toLowerCase());
  return n > 0;
}

/** Counts a permanent rejection; returns the new count. */
export function recordBounce(db: DatabaseSync, address: string, now: number, reason: string): number {
  db.prepare(
    'INSERT INTO dmarc_report_bounces (address, count, last_at, last_reason) VALUES (?, 1, ?, ?) ON CONFLICT(address) DO UPDATE SET count = count + 1, last_at = excluded.last_at, last_reason = excluded.last_reason',
  ).run(address.toLowerCase(), now, reason);
  return (db.prepare('SELECT count FROM dmarc_report_bounces WHERE address = ?').get(address.toLowerCase()) as { count: number }).count;
}

export function listBounces(db: DatabaseSync): { address: string; count: number; lastAt: number; lastReason: string }[] {
  return db.prepare('SELECT address, count, last_at AS lastAt, last_reason AS lastReason FROM dmarc_report_bounces ORDER BY address').all() as {
    address: string;
    count: number;
    lastAt: number;
    lastReason: string;
  }[];
}

/** Deletes reports (and their deliveries) created before `olderThan` ms whose deliveries are all settled. */
export function pruneReports(db: DatabaseSync, olderThan: number): number {
  return Number(
    db
      .prepare("DELETE FROM dmarc_reports WHERE created_at < ? AND NOT EXISTS (SELECT 1 FROM dmarc_report_deliveries d WHERE d.report_id = dmarc_reports.report_id AND d.state = 'pending')")
      .run(olderThan).changes,
  );
}
