/**
 * How both adapters of the received-reports port lay a report out: the columns a query
 * filters or sorts on, and the rest of a row as one JSON document (`detail`). Kept in one
 * place so SQLite and PostgreSQL store, and give back, the same thing.
 */
import type { AggregateRow } from '../reports/read/model.ts';
import type { HistoryCounts } from '../reports/received/store.ts';

export type RowDetail = Pick<AggregateRow, 'reasons' | 'envelopeFrom' | 'envelopeTo' | 'dkimAuth' | 'spfAuth'>;

/** Keyset pagination starts below every period. */
export const BEFORE_ALL: readonly [number, number] = [Number.MIN_SAFE_INTEGER, 0];

export function rowDetail(r: AggregateRow): RowDetail {
  return { reasons: r.reasons, dkimAuth: r.dkimAuth, spfAuth: r.spfAuth, ...(r.envelopeFrom !== undefined ? { envelopeFrom: r.envelopeFrom } : {}), ...(r.envelopeTo !== undefined ? { envelopeTo: r.envelopeTo } : {}) };
}

export interface RowColumns {
  readonly source_ip: string;
  readonly count: number | string;
  readonly disposition: string;
  readonly dkim: string;
  readonly spf: string;
  readonly header_from: string;
}

export function rowFrom(c: RowColumns, detail: RowDetail): AggregateRow {
  return {
    sourceIp: c.source_ip,
    count: Number(c.count),
    disposition: c.disposition as AggregateRow['disposition'],
    dkim: c.dkim as AggregateRow['dkim'],
    spf: c.spf as AggregateRow['spf'],
    headerFrom: c.header_from,
    ...detail,
  };
}

/** Counts from both tables; MIN/MAX are NULL on an empty table (bigint arrives as a string from PostgreSQL). */
export function historyCounts(c: { dmarc: number; tls: number; rows: number; firsts: readonly (number | string | null)[]; lasts: readonly (number | string | null)[] }): HistoryCounts {
  const firsts = c.firsts.filter((x) => x !== null).map(Number);
  const lasts = c.lasts.filter((x) => x !== null).map(Number);
  return {
    dmarcReports: c.dmarc,
    tlsReports: c.tls,
    rows: c.rows,
    ...(firsts.length ? { first: Math.min(...firsts) } : {}),
    ...(lasts.length ? { last: Math.max(...lasts) } : {}),
  };
}
