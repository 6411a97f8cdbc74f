/**
 * Turns what the postmaster points `report read` at into report documents: files (XML,
 * .xml.gz, .zip, JSON, .json.gz), whole messages with the report attached, maildirs
 * (cur/ and new/) and plain directories. Every byte count is bounded; whatever cannot be
 * read is returned as a named failure with its reason, never thrown.
 */
import { open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { ReportError } from '../errors.ts';
import { looksLikeMessage, mimeParts } from './mime.ts';
import { isZip, unzip } from './zip.ts';

export interface ReadLimits {
  readonly maxFileSize: number;
  readonly maxUncompressedSize: number;
  readonly maxZipEntries: number;
}

export interface RawDocument {
  /** Where it came from: `file`, `file:attachment.zip:report.xml` … */
  readonly source: string;
  readonly kind: 'xml' | 'json';
  readonly text: string;
}

export interface InputFailure {
  readonly source: string;
  readonly reason: string;
}

const MAX_NESTING = 4;

function gunzipBounded(buf: Buffer, left: number, label: string, limit: number): Buffer {
  try {
    if (left <= 0) throw Object.assign(new Error('no budget left'), { code: 'ERR_BUFFER_TOO_LARGE' });
    return gunzipSync(buf, { maxOutputLength: left });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new ReportError('TOO_LARGE', `${label}: decompresses to more than ${limit} bytes (gzip bomb?)`, {}, { cause: err });
    }
    throw new ReportError('UNREADABLE', `${label}: bad gzip data: ${(err as Error).message}`, {}, { cause: err });
  }
}

/**
 * Sniffs one blob by content (names lie) and decodes it into documents. `budget` is what
 * may still be decompressed for this input file, shared by every nesting level (a zip of
 * gzips of zips cannot multiply the limit).
 */
export function decodeBlob(buf: Buffer, source: string, limits: ReadLimits, depth = 0, budget = { left: limits.maxUncompressedSize }): RawDocument[] {
  if (depth > MAX_NESTING) throw new ReportError('UNREADABLE', `${source}: nested archives deeper than ${MAX_NESTING}`);
  if (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) {
    const out = gunzipBounded(buf, budget.left, source, limits.maxUncompressedSize);
    budget.left -= out.length;
    return decodeBlob(out, source, limits, depth + 1, budget);
  }
  if (isZip(buf)) {
    const entries = unzip(buf, { maxEntries: limits.maxZipEntries, maxUncompressedSize: budget.left }, source);
    budget.left -= entries.reduce((n, e) => n + e.data.length, 0);
    if (entries.length === 0) throw new ReportError('NOT_A_REPORT', `${source}: empty zip archive`);
    return entries.flatMap((e) => decodeBlob(e.data, `${source}:${e.name}`, limits, depth + 1, budget));
  }
  const head = buf.subarray(0, 512).toString('utf8').replace(/^\uFEFF/, '').trimStart();
  if (head.startsWith('<')) return [{ source, kind: 'xml', text: buf.toString('utf8').replace(/^\uFEFF/, '') }];
  if (head.startsWith('{')) return [{ source, kind: 'json', text: buf.toString('utf8') }];
  if (looksLikeMessage(buf)) {
    const parts = mimeParts(buf, source).filter((p) => {
      const t = p.contentType;
      const n = (p.fileName ?? '').toLowerCase();
      return (
        /(gzip|zip|xml|json|tlsrpt|octet-stream)/.test(t) || /\.(xml|gz|zip|json)$/.test(n)
      );
    });
    if (parts.length === 0) throw new ReportError('NOT_A_REPORT', `${source}: a message without a report attachment`);
    return parts.flatMap((p, i) => decodeBlob(p.data, `${source}:${p.fileName ?? `part${i + 1}`}`, limits, depth + 1, budget));
  }
  throw new ReportError('NOT_A_REPORT', `${source}: not XML, JSON, gzip, zip or a mail message`);
}

async function readBounded(path: string, limit: number): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const st = await fh.stat();
    if (st.size > limit) throw new ReportError('TOO_LARGE', `${path}: ${st.size} bytes, above the limit of ${limit} (reports.read.max_file_size)`);
    const buf = Buffer.alloc(st.size);
    let off = 0;
    while (off < st.size) {
      const { bytesRead } = await fh.read(buf, off, st.size - off, off);
      if (bytesRead === 0) break;
      off += bytesRead;
    }
    return buf.subarray(0, off);
  } finally {
    await fh.close();
  }
}

/** Lists the files a path stands for: itself, a maildir's cur/ and new/, or a directory's files. */
async function expand(path: string): Promise<string[]> {
  const st = await stat(path);
  if (!st.isDirectory()) return [path];
  const names = await readdir(path);
  if (names.includes('cur') || names.includes('new')) {
    const out: string[] = [];
    for (const sub of ['new', 'cur']) {
      const dir = join(path, sub);
      const files = await readdir(dir).catch(() => [] as string[]);
      out.push(...files.filter((f) => !f.startsWith('.')).sort().map((f) => join(dir, f)));
    }
    return out;
  }
  const out: string[] = [];
  for (const n of names.filter((f) => !f.startsWith('.')).sort()) {
    const p = join(path, n);
    if ((await stat(p)).isFile()) out.push(p);
  }
  return out;
}

export async function collectDocuments(paths: readonly string[], limits: ReadLimits): Promise<{ documents: RawDocument[]; failures: InputFailure[] }> {
  const documents: RawDocument[] = [];
  const failures: InputFailure[] = [];
  for (const p of paths) {
    let files: string[];
    try {
      files = await expand(p);
    } catch (err) {
      failures.push({ source: p, reason: (err as Error).message });
      continue;
    }
    for (const f of files) {
      try {
        documents.push(...decodeBlob(await readBounded(f, limits.maxFileSize), f, limits));
      } catch (err) {
        const msg = err instanceof Error ? err.message : String(err);
        failures.push({ source: f, reason: msg.startsWith(f) ? msg.slice(f.length).replace(/^:\s*/, '') : msg });
      }
    }
  }
  return { documents, failures };
}
