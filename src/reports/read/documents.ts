/**
 * Anything a mailbox holds → report documents (XML or JSON byte streams), recursively:
 * gzip, zip (from the file descriptor, or from memory when nested), whole messages (CRLF
 * or LF), mbox files, and any nesting of these up to `MAX_NESTING`. The kind is sniffed
 * from the bytes at every level. Each document or failure is yielded with its source
 * (`file`, `file:attachment.zip:report.xml`, `mbox#3:…`); a failure in one part never
 * stops the next part. A document's stream must be consumed (or dropped) before the next
 * item is asked for.
 */
import { createReadStream } from 'node:fs';
import { ReportError } from '../errors.ts';
import { gunzip } from './gzip.ts';
import { Budget, chunksOf, collect, type ReadLimits } from './limits.ts';
import { mailParts } from './mail-attachments.ts';
import { MboxSplitter } from './mbox.ts';
import { SNIFF_BYTES, sniff } from './sniff.ts';
import { Warnings } from './warnings.ts';
import { openZip, zipMembers } from './zip-archive.ts';

export interface Document {
  readonly source: string;
  readonly format: 'xml' | 'json';
  readonly bytes: AsyncIterable<Uint8Array>;
  /** Leniencies of the containers around it (trailing gzip bytes …); the parser adds its own. */
  readonly warnings: Warnings;
}

export type DocumentItem = { readonly document: Document } | { readonly failure: { readonly source: string; readonly error: ReportError } };

const MAX_NESTING = 6;

interface Ctx {
  readonly limits: ReadLimits;
  readonly budget: Budget;
}

/** Reads ahead until `min` bytes (or the end) are seen; gives them back with the rest of the stream. */
async function peek(chunks: AsyncIterable<Uint8Array>, min: number): Promise<{ head: Uint8Array; all: AsyncIterable<Uint8Array> }> {
  const it = chunks[Symbol.asyncIterator]();
  const seen: Uint8Array[] = [];
  let n = 0;
  let done = false;
  while (n < min) {
    const r = await it.next();
    if (r.done) {
      done = true;
      break;
    }
    seen.push(r.value);
    n += r.value.length;
  }
  const head = seen.length === 1 ? seen[0]! : Buffer.concat(seen, n);
  async function* all(): AsyncGenerator<Uint8Array> {
    yield* seen;
    if (done) return;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield r.value;
    }
  }
  return { head, all: all() };
}

const asReportError = (err: unknown, source: string): ReportError =>
  err instanceof ReportError ? err : new ReportError('UNREADABLE', `${source}: ${(err as Error).message}`, {}, { cause: err });

async function* fromStream(source: string, chunks: AsyncIterable<Uint8Array>, ctx: Ctx, depth: number, warnings: Warnings): AsyncGenerator<DocumentItem> {
  if (depth > MAX_NESTING) throw new ReportError('UNREADABLE', `${source}: archives or messages nested deeper than ${MAX_NESTING}`);
  const { head, all } = await peek(chunks, SNIFF_BYTES);
  const kind = sniff(head);
  switch (kind) {
    case 'gzip':
      yield* fromStream(source, gunzip(all, ctx.budget, source, warnings), ctx, depth + 1, warnings);
      return;
    case 'xml':
    case 'json':
      yield { document: { source, format: kind, bytes: all, warnings } };
      return;
    case 'zip': {
      // Random access is needed: a nested archive is held in memory (bounded).
      const data = await collect(all, ctx.limits.maxMessageSize, source);
      yield* fromZip(source, { data }, ctx, depth, warnings);
      return;
    }
    case 'mail':
      yield* fromMail(source, await collect(all, ctx.limits.maxMessageSize, source), ctx, depth, warnings);
      return;
    case 'mbox':
      yield* fromMbox(source, all, ctx, depth, warnings);
      return;
    case 'unknown':
      throw new ReportError('NOT_A_REPORT', `${source}: not XML, JSON, gzip, zip, a mail message or an mbox file`);
  }
}

async function* fromZip(source: string, from: { path: string } | { data: Buffer }, ctx: Ctx, depth: number, warnings: Warnings): AsyncGenerator<DocumentItem> {
  const zip = await openZip(from, source);
  for await (const item of zipMembers(zip, ctx.limits, ctx.budget, source)) {
    if ('failure' in item) {
      yield { failure: { source: `${source}:${item.failure.name}`, error: item.failure.error } };
      continue;
    }
    const label = `${source}:${item.member.name}`;
    yield* isolated(label, fromStream(label, item.member.open(), ctx, depth + 1, warnings.child()));
  }
}

async function* fromMail(source: string, raw: Buffer, ctx: Ctx, depth: number, warnings: Warnings): AsyncGenerator<DocumentItem> {
  const { parts } = await mailParts(raw, source);
  if (parts.length === 0) throw new ReportError('NOT_A_REPORT', `${source}: a message without a report attachment`);
  let yielded = 0;
  for (const p of parts) {
    const label = `${source}:${p.name}`;
    for await (const item of isolated(label, fromStream(label, chunksOf(p.data), ctx, depth + 1, warnings.child()))) {
      // A signature or logo next to the report is not worth a line of its own.
      if ('failure' in item && item.failure.error.code === 'NOT_A_REPORT' && parts.length > 1) continue;
      yielded++;
      yield item;
    }
  }
  if (yielded === 0) throw new ReportError('NOT_A_REPORT', `${source}: no attachment is a report (${parts.map((p) => `${p.name} ${p.mimeType}`).join(', ')})`);
}

async function* fromMbox(source: string, chunks: AsyncIterable<Uint8Array>, ctx: Ctx, depth: number, warnings: Warnings): AsyncGenerator<DocumentItem> {
  const splitter = new MboxSplitter(ctx.limits.maxMessageSize);
  const each = async function* (items: ReturnType<MboxSplitter['push']>): AsyncGenerator<DocumentItem> {
    for (const m of items) {
      const label = `${source}#${m.index}`;
      if ('tooLarge' in m) {
        yield { failure: { source: label, error: new ReportError('TOO_LARGE', `${label}: message of ${m.tooLarge} bytes or more, above reports.read.max_message_size (${ctx.limits.maxMessageSize})`) } };
        continue;
      }
      yield* isolated(label, fromMail(label, m.message, ctx, depth + 1, warnings.child()));
    }
  };
  for await (const c of chunks) yield* each(splitter.push(c));
  yield* each(splitter.end());
}

/** Runs a nested reader; its error becomes one failure item instead of ending the container. */
async function* isolated(source: string, items: AsyncGenerator<DocumentItem>): AsyncGenerator<DocumentItem> {
  try {
    yield* items;
  } catch (err) {
    yield { failure: { source, error: asReportError(err, source) } };
  }
}

/** The documents of one input file. */
export async function* documentsOfFile(path: string, size: number, limits: ReadLimits): AsyncGenerator<DocumentItem> {
  const ctx: Ctx = { limits, budget: new Budget(limits.maxUncompressedSize) };
  if (size > limits.maxFileSize) {
    yield { failure: { source: path, error: new ReportError('TOO_LARGE', `${path}: ${size} bytes, above the limit of ${limits.maxFileSize} (reports.read.max_file_size)`) } };
    return;
  }
  const warnings = new Warnings();
  const fileChunks = (): AsyncIterable<Uint8Array> => createReadStream(path, { highWaterMark: 65536 }) as AsyncIterable<Buffer>;
  yield* isolated(
    path,
    (async function* () {
      const { head } = await peek(createReadStream(path, { start: 0, end: SNIFF_BYTES - 1 }) as AsyncIterable<Buffer>, SNIFF_BYTES);
      // A zip file on disk is read by random access, never loaded whole.
      if (sniff(head) === 'zip') yield* fromZip(path, { path }, ctx, 0, warnings);
      else yield* fromStream(path, fileChunks(), ctx, 0, warnings);
    })(),
  );
}

/** The documents of one message or blob held in memory (an IMAP message). */
export async function* documentsOfBuffer(source: string, data: Buffer, limits: ReadLimits): AsyncGenerator<DocumentItem> {
  const ctx: Ctx = { limits, budget: new Budget(limits.maxUncompressedSize) };
  yield* isolated(source, fromStream(source, chunksOf(data), ctx, 0, new Warnings()));
}
