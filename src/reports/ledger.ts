/**
 * The report ledger port (owned by the reports feature; adapters in store/): generated
 * reports with their gzipped XML, one delivery row per (report, destination) whose state
 * moves pending → sent | skipped, the suppression list and bounce counts.
 *
 * Exactly once across a fleet: a report is unique per (policy domain, period start) —
 * `insertReport` of a second one for the same key returns false and the first stands — and
 * a pending delivery is claimed by one conditional UPDATE before the hand-off, so of two hosts
 * running `report send` at once exactly one hands each (report, destination) to its MTA.
 * "Sent" is written only after the MTA accepted the message.
 */

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

export interface NewReport extends Omit<StoredReport, 'createdAt'> {
  readonly xmlGz: Buffer;
  readonly deliveries: readonly { address: string; uri: string; state: DeliveryState; reason?: string }[];
}

export interface Suppression {
  readonly entry: string;
  readonly reason: string;
  readonly addedAt: number;
}

export interface Bounce {
  readonly address: string;
  readonly count: number;
  readonly lastAt: number;
  readonly lastReason: string;
}

export interface ReportLedger {
  /** Per policy domain, the end (ms) of the latest stored report. */
  reportedUntil(): Promise<Map<string, number>>;
  /**
   * Stores a report and its delivery rows in one transaction (all or nothing). Returns false
   * when a report for the same (domain, period start) exists already: another run (on any
   * host) made it between our read and this write, and theirs stands.
   */
  insertReport(report: NewReport, now: number): Promise<boolean>;
  listReports(): Promise<StoredReport[]>;
  reportXmlGz(reportId: string): Promise<Buffer | undefined>;
  listDeliveries(filter?: { readonly state?: DeliveryState }): Promise<Delivery[]>;
  /**
   * Claims a pending delivery for `leaseMs` (attempts + 1). False when it is no longer pending
   * or another run holds it. A run that dies mid hand-off leaves the row pending, so it is
   * retried after the lease.
   */
  claimDelivery(reportId: string, address: string, now: number, leaseMs: number): Promise<boolean>;
  markSent(reportId: string, address: string, now: number, response: string): Promise<void>;
  markSkipped(reportId: string, address: string, now: number, reason: string): Promise<void>;
  /** Leaves the row pending (retried next run) with the reason of this failure. */
  markFailed(reportId: string, address: string, now: number, reason: string): Promise<void>;
  listSuppressions(): Promise<Suppression[]>;
  addSuppression(entry: string, reason: string, now: number): Promise<void>;
  /** Removes the entry (and forgets its bounces); false when it was not suppressed. */
  removeSuppression(entry: string): Promise<boolean>;
  /** Counts a permanent rejection; returns the new count. */
  recordBounce(address: string, now: number, reason: string): Promise<number>;
  listBounces(): Promise<Bounce[]>;
  /** Deletes reports (and their deliveries) created before `olderThan` ms whose deliveries are all settled. */
  pruneReports(olderThan: number): Promise<number>;
}
