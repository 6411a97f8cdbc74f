/**
 * The received-reports history port, owned by the reports feature (adapters:
 * `src/store/sqlite/received-reports.ts`; PostgreSQL to follow the fleet store). A report
 * is stored once per (reporter, report id, policy domain): a report mailed twice, or read
 * again from the processed folder, counts once. RFC 7489 §7.2.2 makes the report id unique
 * per reporter; the policy domain is part of the key because some reporters reuse one id
 * across the domains of one run, and dropping a second domain's data would be a silent loss.
 *
 * DMARC rows are written in batches while the XML streams in (a 100 MB report is never held
 * whole); a report becomes visible to readers only once complete, and a report whose import
 * died half-way is replaced by the next import of it.
 */
import type { AggregateStats } from '../read/aggregate-parser.ts';
import type { AggregateHeader, AggregateRow, TlsReport } from '../read/model.ts';
import type { RowSink } from '../read/reader.ts';

export interface ImportMeta {
  /** Where it came from (`imap:INBOX/1234`, a file path …), for `report show`-style listings. */
  readonly source: string;
  readonly importedAt: number; // ms
}

export type BeginResult = { readonly kind: 'new'; readonly sink: RowSink } | { readonly kind: 'duplicate'; readonly importedAt: number; readonly source: string };

export interface StoredDmarcReport {
  readonly header: AggregateHeader;
  readonly stats: AggregateStats;
  readonly warnings: readonly string[];
  readonly source: string;
  readonly importedAt: number;
}

export interface HistoryQuery {
  /** Reports whose period overlaps [from, to) (unix seconds). */
  readonly from: number;
  readonly to: number;
  /** Policy domains (and their subdomains); empty = all. */
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

export interface ReceivedReportStore {
  beginDmarc(header: AggregateHeader, meta: ImportMeta): Promise<BeginResult>;
  addTls(report: TlsReport, meta: ImportMeta): Promise<'stored' | 'duplicate'>;
  /** Complete DMARC reports in the range, oldest first, each with its rows in batches. */
  dmarc(query: HistoryQuery): AsyncIterable<{ readonly report: StoredDmarcReport; readonly rows: AsyncIterable<readonly AggregateRow[]> }>;
  tls(query: HistoryQuery): AsyncIterable<TlsReport>;
  /** Deletes reports whose period ended before `before` (unix seconds). */
  prune(before: number): Promise<{ readonly dmarc: number; readonly tls: number }>;
  counts(): Promise<HistoryCounts>;
  close(): Promise<void>;
}
