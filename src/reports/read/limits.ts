/**
 * The reader's bounds (config `reports.read`). Streams are bounded by what they produce;
 * only what must be held whole (a mail, an archive inside another one, a TLS-RPT JSON
 * document) is bounded by `maxMessageSize`.
 */
import { ReportError } from '../errors.ts';

export interface ReadLimits {
  /** Any input file. */
  readonly maxFileSize: number;
  /** Everything decompressed from one input file, all nesting levels together. */
  readonly maxUncompressedSize: number;
  /** A mail message, an mbox message, an archive inside an archive, a JSON report: held in memory. */
  readonly maxMessageSize: number;
  readonly maxZipEntries: number;
}

/** Decompression left for one input file, shared by every nesting level (a zip of gzips cannot multiply it). */
export class Budget {
  #left: number;
  readonly limit: number;

  constructor(limit: number) {
    this.limit = limit;
    this.#left = limit;
  }

  get left(): number {
    return this.#left;
  }

  spend(bytes: number, what: string): void {
    this.#left -= bytes;
    if (this.#left < 0) throw new ReportError('TOO_LARGE', `${what}: decompresses to more than ${this.limit} bytes (reports.read.max_uncompressed_size; a zip or gzip bomb?)`);
  }
}

/** A buffer as a stream of 64 KiB views: the XML decoder and parser then never see one huge string. */
export async function* chunksOf(buf: Uint8Array, size = 65536): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, Math.min(buf.length, i + size));
}

/** Collects a stream into one buffer, refusing more than `limit` bytes. */
export async function collect(chunks: AsyncIterable<Uint8Array>, limit: number, what: string): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  let n = 0;
  for await (const c of chunks) {
    n += c.length;
    if (n > limit) throw new ReportError('TOO_LARGE', `${what}: more than ${limit} bytes to hold in memory (reports.read.max_message_size)`);
    parts.push(c);
  }
  return Buffer.concat(parts, n);
}
