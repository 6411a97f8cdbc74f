/**
 * The received-reports history port, owned by the reports feature (adapters:
 * `src/store/sqlite/received-reports.ts`, `src/store/postgres/received-reports.ts`; reached
 * as `Store.received`, so a fleet on one PostgreSQL shares one history). A report is stored
 * once per (reporter, report id, policy domain): a report mailed twice, read again from the
 * processed folder, or imported by two hosts at the same moment counts once. RFC 7489
 * §7.2.2 makes the report id unique per reporter; the policy domain is part of the key
 * because some reporters reuse one id across the domains of one run, and dropping a second
 * domain's data would be a silent loss.
 *
 * DMARC rows are written in batches while the XML streams in (a 100 MB report is never held
 * whole); a report becomes visible to readers only once complete, and a report whose import
 * died half-way is taken over by the next import of it after `STALE_IMPORT_MS`. The import
 * that lost its report that way finds out at its next write: `rows` and `commit` then fail
 * with ReportError `IN_PROGRESS` (the report is someone else's now), never by mixing its rows
 * into the other import's.
 *
 * A report another import is still loading is `in-progress`, not a duplicate: it is not
 * stored yet, and that import may still fail. `report import` leaves such a message where it
 * is, so the report is lost neither way.
 */
import type { AggregateStats } from '../read/aggregate-parser.ts';
import type { AggregateHeader, AggregateRow, TlsReport } from '../read/model.ts';
import type { RowSink } from '../read/reader.ts';

/**
 * A `loading` report this much older than a new import of it belongs to an import that
 * died (killed, its host lost): the new import replaces it. The slowest import measured, one
 * 100 MB report, takes 14 s (docs/reports.md), so a live import is never taken over.
 */
export const STALE_IMPORT_MS = 3_600_000;

export interface ImportMeta {
  /** Where it came from (`imap:INBOX/1234`, a file path …), for listings. */
  readonly source: string;
  readonly importedAt: number; // ms
}

export type BeginResult =
  | { readonly kind: 'new'; readonly sink: RowSink }
  /** Stored (complete) already. */
  | { readonly kind: 'duplicate'; readonly importedAt: number; readonly source: string }
  /** Another import claimed it less than STALE_IMPORT_MS ago and has not finished. */
  | { readonly kind: 'in-progress'; readonly importedAt: number; readonly source: string };

export interface StoredDmarcReport {
  readonly header: AggregateHeader;
  readonly stats: AggregateStats;
  readonly warnings: readonly string[];
  readonly source: string;
  readonly importedAt: number;
}

export interface StoredTlsReport {
  readonly report: TlsReport;
  readonly source: string;
  readonly importedAt: number;
}

export interface HistoryQuery {
  /** Reports whose period overlaps [from, to) (unix seconds). */
  readonly from: number;
  readonly to: number;
  /** Policy domains (and their subdomains), lower case A-labels; empty = all. */
  readonly domains: readonly string[];
}

export interface HistoryCounts {
  readonly dmarcReports: number;
  readonly tlsReports: number;
  readonly rows: number;
  /** Earliest begin and latest end over all stored reports (unix seconds). */
  readonly first?: number;
  readonly last?: number;
}

export interface PruneResult {
  /** Complete DMARC reports past the cut-off, and died imports (loading past STALE_IMPORT_MS). */
  readonly dmarc: number;
  readonly tls: number;
}

export interface ReceivedReportStore {
  beginDmarc(header: AggregateHeader, meta: ImportMeta): Promise<BeginResult>;
  addTls(report: TlsReport, meta: ImportMeta): Promise<'stored' | 'duplicate'>;
  /**
   * Complete DMARC reports in the range, oldest period first, each with its rows in batches
   * (both read in pages: memory stays bounded whatever the history holds). A report's rows
   * may be read, or left unread, independently of the listing.
   */
  dmarc(query: HistoryQuery): AsyncIterable<{ readonly report: StoredDmarcReport; readonly rows: AsyncIterable<readonly AggregateRow[]> }>;
  /** TLS reports in the range that name one of the domains, oldest period first. */
  tls(query: HistoryQuery): AsyncIterable<StoredTlsReport>;
  /**
   * Deletes reports whose period ended before `before` (unix seconds), and DMARC imports
   * still loading at `now` (ms) after STALE_IMPORT_MS (their partial rows would otherwise
   * stay until the same report is imported again, which may be never).
   */
  prune(before: number, now: number): Promise<PruneResult>;
  counts(): Promise<HistoryCounts>;
}
