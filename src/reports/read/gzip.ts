/**
 * Streaming gunzip (RFC 1952) within the decompression budget, with gunzip(1)'s
 * tolerance: concatenated members are one stream (§2.2), zero padding after the last
 * member is skipped, and other bytes after it ("trailing garbage", e.g. the CRLF Mimecast's
 * MTA appends to its attachments) are ignored with a warning. Node's own Gunzip refuses
 * such input *and* drops the output of the last chunk, so members are framed here: our
 * header parser (§2.3.1), zlib's raw inflater for the deflate data, and the trailer
 * (CRC-32 and ISIZE, §2.3.1) checked against what came out.
 */
import { createInflateRaw, crc32 } from 'node:zlib';
import { ReportError } from '../errors.ts';
import type { Budget } from './limits.ts';
import type { Warnings } from './warnings.ts';

/** Input is handed to the inflater in pieces of this size: bounds what one write can expand to. */
const PIECE = 16 * 1024;
const MAX_HEADER_FIELD = 64 * 1024;

/** Pull-based reader over chunks, with push-back. */
class Bytes {
  readonly #it: AsyncIterator<Uint8Array>;
  #pending: Buffer[] = [];
  #eof = false;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.#it = source[Symbol.asyncIterator]();
  }

  async next(max = PIECE): Promise<Buffer | undefined> {
    let b = this.#pending.shift();
    if (!b) {
      if (this.#eof) return undefined;
      const r = await this.#it.next();
      if (r.done) {
        this.#eof = true;
        return undefined;
      }
      b = Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength);
    }
    if (b.length > max) {
      this.#pending.unshift(b.subarray(max));
      b = b.subarray(0, max);
    }
    return b;
  }

  unshift(b: Buffer): void {
    if (b.length) this.#pending.unshift(b);
  }

  /** Exactly `n` bytes, or fewer at the end of input. */
  async take(n: number): Promise<Buffer> {
    const parts: Buffer[] = [];
    let got = 0;
    while (got < n) {
      const b = await this.next(n - got);
      if (!b) break;
      parts.push(b);
      got += b.length;
    }
    return Buffer.concat(parts, got);
  }

  async close(): Promise<void> {
    this.#pending = [];
    await this.#it.return?.();
  }
}

const truncated = (label: string): ReportError => new ReportError('UNREADABLE', `${label}: bad gzip data: unexpected end of file`);

/** Skips the member header (§2.3.1); false at a clean end of input. */
async function readHeader(input: Bytes, label: string, first: boolean, warnings: Warnings): Promise<boolean> {
  // Zero padding between or after members is common (tape blocks, some MTAs).
  for (;;) {
    const b = await input.next();
    if (!b) return false;
    let i = 0;
    while (i < b.length && b[i] === 0) i++;
    if (i < b.length) {
      input.unshift(b.subarray(i));
      break;
    }
  }
  const fixed = await input.take(10);
  if (fixed.length >= 2 && (fixed[0] !== 0x1f || fixed[1] !== 0x8b)) {
    if (first) throw new ReportError('UNREADABLE', `${label}: bad gzip data: not a gzip header`);
    let n = fixed.length;
    for (let b = await input.next(); b; b = await input.next()) n += b.length;
    warnings.add(`${n} byte(s) after the end of the gzip data ignored (as gunzip does)`);
    return false;
  }
  if (fixed.length < 10) throw truncated(label);
  if (fixed[2] !== 8) throw new ReportError('UNREADABLE', `${label}: bad gzip data: compression method ${fixed[2]}, not deflate`);
  const flags = fixed[3]!;
  if (flags & 0x04) {
    const len = await input.take(2);
    if (len.length < 2) throw truncated(label);
    const extra = await input.take(len.readUInt16LE(0));
    if (extra.length < len.readUInt16LE(0)) throw truncated(label);
  }
  for (const bit of [0x08, 0x10]) {
    if (!(flags & bit)) continue;
    // FNAME / FCOMMENT: zero-terminated.
    let n = 0;
    for (;;) {
      const b = await input.next();
      if (!b) throw truncated(label);
      const z = b.indexOf(0);
      if (z >= 0) {
        input.unshift(b.subarray(z + 1));
        break;
      }
      n += b.length;
      if (n > MAX_HEADER_FIELD) throw new ReportError('UNREADABLE', `${label}: bad gzip data: header field longer than ${MAX_HEADER_FIELD} bytes`);
    }
  }
  if (flags & 0x02 && (await input.take(2)).length < 2) throw truncated(label);
  return true;
}

/** Resolves once zlib has taken `piece` (or the inflater was destroyed: a budget stop). */
function writeTo(z: ReturnType<typeof createInflateRaw>, piece: Buffer): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = (): void => {
      z.off('close', done);
      resolve();
    };
    z.once('close', done);
    z.write(piece, done);
  });
}

export async function* gunzip(source: AsyncIterable<Uint8Array>, budget: Budget, label: string, warnings: Warnings): AsyncGenerator<Buffer> {
  const input = new Bytes(source);
  try {
    for (let member = 0; await readHeader(input, label, member === 0, warnings); member++) {
      const z = createInflateRaw();
      const out: Buffer[] = [];
      let ended = false;
      let failure: Error | undefined;
      let crc = 0;
      let size = 0;
      z.on('data', (c: Buffer) => {
        try {
          budget.spend(c.length, label);
        } catch (err) {
          failure ??= err as Error;
          z.destroy();
          return;
        }
        crc = crc32(c, crc);
        size += c.length;
        out.push(c);
      });
      z.on('end', () => (ended = true));
      z.on('error', (err) => (failure ??= err));
      let last: Buffer = Buffer.alloc(0);
      try {
        while (!ended) {
          const piece = await input.next();
          if (!piece) {
            // Let the inflater say whether the data was complete.
            await new Promise<void>((resolve) => z.end(resolve));
            if (failure) break;
            if (!ended) throw truncated(label);
            break;
          }
          last = piece;
          await writeTo(z, piece);
          if (failure) break;
          // 'end' is emitted on a later tick than the write callback at times; never write past it.
          if (!ended) await new Promise<void>((resolve) => setImmediate(resolve));
          while (out.length) yield out.shift()!;
        }
        if (failure) {
          if (failure instanceof ReportError) throw failure;
          throw new ReportError('UNREADABLE', `${label}: bad gzip data: ${failure.message}`, {}, { cause: failure });
        }
        while (out.length) yield out.shift()!;
      } finally {
        z.destroy();
      }
      // The deflate data ended inside `last`; its 8-byte trailer follows somewhere in it or after it.
      const trailer = Buffer.alloc(8);
      trailer.writeUInt32LE(crc >>> 0, 0);
      trailer.writeUInt32LE(size % 2 ** 32, 4);
      let window = Buffer.from(last);
      let at = window.indexOf(trailer);
      while (at < 0) {
        const more = await input.take(8);
        if (more.length === 0) throw new ReportError('UNREADABLE', `${label}: bad gzip data: CRC-32 or length does not match the trailer (corrupt or truncated)`);
        window = Buffer.concat([window, more]);
        at = window.indexOf(trailer, Math.max(0, window.length - more.length - 7));
        if (window.length - last.length > 16) throw new ReportError('UNREADABLE', `${label}: bad gzip data: CRC-32 or length does not match the trailer (corrupt)`);
      }
      input.unshift(window.subarray(at + 8));
    }
  } finally {
    await input.close();
  }
}
