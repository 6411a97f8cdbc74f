/**
 * Reads received reports and hands them to a consumer — the in-memory summary of
 * `report read`, or the store of `report import` — one document at a time, DMARC rows in
 * batches as the XML streams in. Every input that is not used comes back as an outcome
 * with its reason; nothing is thrown for bad input, and one bad part never stops the rest.
 */
import type { ReportErrorCode } from '../errors.ts';
import { ReportError } from '../errors.ts';
import { AggregateParser, type AggregateStats } from './aggregate-parser.ts';
import { documentsOfBuffer, documentsOfFile, type Document, type DocumentItem } from './documents.ts';
import { collect, type ReadLimits } from './limits.ts';
import type { AggregateHeader, AggregateRow, TlsReport } from './model.ts';
import { parseTlsReport } from './tlsrpt-parser.ts';
import { walk } from './walk.ts';
import { xmlText } from './xml-text.ts';

/** Where one DMARC report's rows go once its header was accepted. */
export interface RowSink {
  rows(batch: readonly AggregateRow[]): Promise<void>;
  /** The document ended well: make it count. */
  commit(stats: AggregateStats, warnings: readonly string[]): Promise<void>;
  /** The document failed after its header was accepted: forget its rows (or say what could not be forgotten). */
  abort(): Promise<string | undefined>;
}

export interface ReportConsumer {
  /** A report's header is complete. Throw a ReportError (`DUPLICATE`, `NOT_OURS`) to skip it. */
  dmarc(header: AggregateHeader, source: string): Promise<RowSink>;
  tls(report: TlsReport, source: string, warnings: readonly string[]): Promise<void>;
}

export type ReadOutcome =
  | { readonly status: 'read'; readonly kind: 'dmarc'; readonly source: string; readonly header: AggregateHeader; readonly stats: AggregateStats; readonly warnings: readonly string[] }
  | { readonly status: 'read'; readonly kind: 'tls'; readonly source: string; readonly report: TlsReport; readonly warnings: readonly string[] }
  | { readonly status: 'skipped'; readonly source: string; readonly code: ReportErrorCode; readonly reason: string };

/**
 * A consumer's own failure (the store is down, the disk is full) is not the input's fault:
 * it ends the run instead of marking the report unreadable (which would move it to the
 * failed folder).
 */
export class ConsumerFailure extends Error {
  constructor(cause: unknown) {
    super(`storing the report failed: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.name = 'ConsumerFailure';
  }
}

async function call<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ReportError) throw err;
    throw new ConsumerFailure(err);
  }
}

function skipped(source: string, err: unknown): ReadOutcome {
  if (err instanceof ConsumerFailure) throw err;
  const e = err instanceof ReportError ? err : new ReportError('UNREADABLE', (err as Error)?.message ?? String(err), {}, { cause: err });
  // Messages start with the innermost label; say the rest once, after the source.
  let reason = e.message;
  for (let label = source; label; label = label.slice(0, Math.max(0, label.lastIndexOf(':')))) {
    if (reason.startsWith(`${label}: `)) {
      reason = reason.slice(label.length + 2);
      break;
    }
    if (!label.includes(':')) break;
  }
  return { status: 'skipped', source, code: e.code, reason };
}

async function readXml(doc: Document, consumer: ReportConsumer): Promise<ReadOutcome> {
  const parser = new AggregateParser();
  let sink: RowSink | undefined;
  try {
    for await (const text of xmlText(doc.bytes, doc.warnings)) {
      parser.write(text);
      if (!sink && parser.header) sink = await call(() => consumer.dmarc(parser.header!, doc.source));
      if (sink) {
        const rows = parser.takeRows();
        if (rows.length) await call(() => sink!.rows(rows));
      }
    }
    const header = parser.end();
    sink ??= await call(() => consumer.dmarc(header, doc.source));
    const rows = parser.takeRows();
    if (rows.length) await call(() => sink!.rows(rows));
    doc.warnings.merge(parser.warnings);
    const warnings = doc.warnings.list();
    await call(() => sink!.commit(parser.stats, warnings));
    return { status: 'read', kind: 'dmarc', source: doc.source, header, stats: parser.stats, warnings };
  } catch (err) {
    const note = sink ? await call(() => sink!.abort()) : undefined;
    const out = skipped(doc.source, err);
    return note && out.status === 'skipped' ? { ...out, reason: `${out.reason} (${note})` } : out;
  }
}

async function readJson(doc: Document, limits: ReadLimits, consumer: ReportConsumer): Promise<ReadOutcome> {
  try {
    const bytes = await collect(doc.bytes, limits.maxMessageSize, doc.source);
    const report = parseTlsReport(new TextDecoder('utf-8', { fatal: false }).decode(bytes), doc.warnings);
    const warnings = doc.warnings.list();
    await call(() => consumer.tls(report, doc.source, warnings));
    return { status: 'read', kind: 'tls', source: doc.source, report, warnings };
  } catch (err) {
    return skipped(doc.source, err);
  }
}

async function* readItems(items: AsyncIterable<DocumentItem>, limits: ReadLimits, consumer: ReportConsumer): AsyncGenerator<ReadOutcome> {
  for await (const item of items) {
    if ('failure' in item) yield skipped(item.failure.source, item.failure.error);
    else if (item.document.format === 'xml') yield await readXml(item.document, consumer);
    else yield await readJson(item.document, limits, consumer);
  }
}

/** Files, directories (recursively), Maildirs and mbox files. */
export async function* readPaths(paths: readonly string[], limits: ReadLimits, consumer: ReportConsumer): AsyncGenerator<ReadOutcome> {
  for await (const w of walk(paths)) {
    if ('failure' in w) yield { status: 'skipped', source: w.failure.path, code: 'UNREADABLE', reason: w.failure.reason };
    else yield* readItems(documentsOfFile(w.file, w.size, limits), limits, consumer);
  }
}

/** One message or blob in memory (fetched over IMAP). */
export function readBuffer(source: string, data: Buffer, limits: ReadLimits, consumer: ReportConsumer): AsyncGenerator<ReadOutcome> {
  return readItems(documentsOfBuffer(source, data, limits), limits, consumer);
}
