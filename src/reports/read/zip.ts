/**
 * A bounded ZIP reader (PKWARE APPNOTE 6.3: end-of-central-directory, central directory,
 * local headers; methods 0 stored and 8 deflate) for attached DMARC reports. Declared sizes
 * are checked before inflating and the inflater itself is capped (`maxOutputLength`), so a
 * zip bomb that lies about its sizes still stops at the limit.
 */
import { inflateRawSync } from 'node:zlib';
import { ReportError } from '../errors.ts';

export interface ZipEntry {
  readonly name: string;
  readonly data: Buffer;
}

export interface ZipLimits {
  readonly maxEntries: number;
  /** Per entry and in total, uncompressed. */
  readonly maxUncompressedSize: number;
}

export function isZip(buf: Buffer): boolean {
  return buf.length >= 4 && buf.readUInt32LE(0) === 0x04034b50;
}

export function unzip(buf: Buffer, limits: ZipLimits, label: string): ZipEntry[] {
  // EOCD: signature 0x06054b50, within the last 22 + 65535 bytes.
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 22 - 0xffff); i--) {
    if (buf.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new ReportError('UNREADABLE', `${label}: not a complete zip archive (no end of central directory)`);
  const count = buf.readUInt16LE(eocd + 10);
  const cdOffset = buf.readUInt32LE(eocd + 16);
  if (count > limits.maxEntries) throw new ReportError('TOO_LARGE', `${label}: ${count} zip entries, more than the limit of ${limits.maxEntries}`);
  const out: ZipEntry[] = [];
  let p = cdOffset;
  let total = 0;
  for (let n = 0; n < count; n++) {
    if (p + 46 > buf.length || buf.readUInt32LE(p) !== 0x02014b50) throw new ReportError('UNREADABLE', `${label}: damaged zip central directory`);
    const flags = buf.readUInt16LE(p + 8);
    const method = buf.readUInt16LE(p + 10);
    const csize = buf.readUInt32LE(p + 20);
    const usize = buf.readUInt32LE(p + 24);
    const nameLen = buf.readUInt16LE(p + 28);
    const extraLen = buf.readUInt16LE(p + 30);
    const commentLen = buf.readUInt16LE(p + 32);
    const local = buf.readUInt32LE(p + 42);
    const name = buf.subarray(p + 46, p + 46 + nameLen).toString('utf8');
    p += 46 + nameLen + extraLen + commentLen;
    if (name.endsWith('/')) continue; // a directory
    if (flags & 1) throw new ReportError('UNREADABLE', `${label}: ${name} is encrypted`);
    if (usize === 0xffffffff || csize === 0xffffffff) throw new ReportError('TOO_LARGE', `${label}: ${name} is a ZIP64 entry (larger than 4 GiB declared)`);
    if (usize > limits.maxUncompressedSize || total + usize > limits.maxUncompressedSize) {
      throw new ReportError('TOO_LARGE', `${label}: ${name} declares ${usize} bytes uncompressed, above the limit of ${limits.maxUncompressedSize}`);
    }
    if (local + 30 > buf.length || buf.readUInt32LE(local) !== 0x04034b50) throw new ReportError('UNREADABLE', `${label}: damaged zip local header for ${name}`);
    const start = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
    const raw = buf.subarray(start, start + csize);
    if (raw.length !== csize) throw new ReportError('UNREADABLE', `${label}: ${name} is truncated`);
    let data: Buffer;
    if (method === 0) data = Buffer.from(raw);
    else if (method === 8) {
      try {
        // Room for one byte more than declared: more output than declared is a lie → refuse.
        data = inflateRawSync(raw, { maxOutputLength: Math.min(limits.maxUncompressedSize - total, usize) + 1 });
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ERR_BUFFER_TOO_LARGE') throw new ReportError('TOO_LARGE', `${label}: ${name} inflates beyond its declared size or the limit (zip bomb?)`, {}, { cause: err });
        throw new ReportError('UNREADABLE', `${label}: ${name}: ${(err as Error).message}`, {}, { cause: err });
      }
      if (data.length > usize) throw new ReportError('TOO_LARGE', `${label}: ${name} inflates beyond its declared ${usize} bytes (zip bomb?)`);
    } else throw new ReportError('UNREADABLE', `${label}: ${name} uses unsupported compression method ${method}`);
    total += data.length;
    out.push({ name, data });
  }
  return out;
}
