/**
 * The entries of a zip archive (PKWARE APPNOTE 6.3.10, ZIP64 included) as byte streams,
 * read with yauzl: random access from the file descriptor (the archive is never loaded
 * whole), the central directory checked against the local headers, and every entry's
 * output checked against the size it declares (`validateEntrySizes`), so a bomb that lies
 * about its size stops at the declared size. We add the bounds: entry count, and the
 * declared size against the decompression budget *before* inflating anything.
 */
import type { Readable } from 'node:stream';
import yauzl from 'yauzl';
import { ReportError } from '../errors.ts';
import type { Budget, ReadLimits } from './limits.ts';
import { printable } from './printable.ts';

export interface ZipMember {
  readonly name: string;
  readonly declaredSize: number;
  /** Opens the entry's decompressed bytes (call at most once). */
  readonly open: () => AsyncGenerator<Uint8Array>;
}

export type ZipItem = { readonly member: ZipMember } | { readonly failure: { readonly name: string; readonly error: ReportError } };

const OPTIONS = { lazyEntries: true, autoClose: true, decodeStrings: true, validateEntrySizes: true, strictFileNames: false } as const;

function wrap(err: unknown, label: string): ReportError {
  if (err instanceof ReportError) return err;
  return new ReportError('UNREADABLE', `${label}: not a readable zip archive: ${(err as Error).message}`, {}, { cause: err });
}

export async function openZip(from: { readonly path: string } | { readonly data: Buffer }, label: string): Promise<yauzl.ZipFile> {
  try {
    return 'path' in from ? await yauzl.openPromise(from.path, OPTIONS) : await yauzl.fromBufferPromise(from.data, OPTIONS);
  } catch (err) {
    throw wrap(err, label);
  }
}

async function* entryBytes(stream: Readable, budget: Budget, what: string): AsyncGenerator<Uint8Array> {
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      budget.spend(chunk.length, what);
      yield chunk;
    }
  } catch (err) {
    if (err instanceof ReportError) throw err;
    const m = (err as Error).message;
    // yauzl: "too many bytes in the stream" / "not enough bytes": the entry lied about its size.
    if (/too many bytes/.test(m)) throw new ReportError('TOO_LARGE', `${what}: inflates beyond its declared size (zip bomb?)`, {}, { cause: err });
    throw new ReportError('UNREADABLE', `${what}: ${m}`, {}, { cause: err });
  } finally {
    stream.destroy();
  }
}

/**
 * Yields each file entry (directories skipped) in central-directory order. The caller
 * must finish (or drop) one member's stream before asking for the next.
 */
export async function* zipMembers(zip: yauzl.ZipFile, limits: ReadLimits, budget: Budget, label: string): AsyncGenerator<ZipItem> {
  try {
    if (zip.entryCount > limits.maxZipEntries) {
      throw new ReportError('TOO_LARGE', `${label}: ${zip.entryCount} zip entries, more than the limit of ${limits.maxZipEntries} (reports.read.max_zip_entries)`);
    }
    if (zip.entryCount === 0) throw new ReportError('NOT_A_REPORT', `${label}: empty zip archive`);
    let entries;
    try {
      entries = zip.eachEntry();
    } catch (err) {
      throw wrap(err, label);
    }
    for (;;) {
      let next: IteratorResult<yauzl.Entry>;
      try {
        next = await entries.next();
      } catch (err) {
        throw wrap(err, label);
      }
      if (next.done) return;
      const entry = next.value;
      if (entry.fileName.endsWith('/')) continue;
      const what = `${label}:${entry.fileName}`;
      // The entry name is the sender's; it ends up in output lines.
      const name = printable(entry.fileName);
      const fail = (error: ReportError): ZipItem => ({ failure: { name, error } });
      if (entry.isEncrypted()) {
        yield fail(new ReportError('UNREADABLE', `${what}: encrypted`));
        continue;
      }
      if (!entry.canDecodeFileData()) {
        yield fail(new ReportError('UNREADABLE', `${what}: compression method ${entry.compressionMethod} not supported (only stored and deflate)`));
        continue;
      }
      if (entry.uncompressedSize > budget.left) {
        yield fail(new ReportError('TOO_LARGE', `${what}: declares ${entry.uncompressedSize} bytes uncompressed, above what is left of the limit (${budget.left} of ${budget.limit} bytes, reports.read.max_uncompressed_size)`));
        continue;
      }
      let opened = false;
      yield {
        member: {
          name,
          declaredSize: entry.uncompressedSize,
          open: async function* () {
            if (opened) throw new Error('zip member opened twice');
            opened = true;
            let stream: Readable;
            try {
              stream = await zip.openReadStreamPromise(entry);
            } catch (err) {
              throw wrap(err, what);
            }
            yield* entryBytes(stream, budget, what);
          },
        },
      };
    }
  } finally {
    zip.close();
  }
}
