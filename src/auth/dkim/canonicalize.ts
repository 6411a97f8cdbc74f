/**
 * DKIM canonicalisation (RFC 6376 §3.4). The body canonicaliser is a streaming byte state
 * machine: chunks of any size in, canonical bytes out, so a body is never buffered whole and
 * a 16 MB single line costs one pass. Trailing empty lines are held back until content
 * follows (§3.4.3/§3.4.4); `end()` drops them.
 */
export type Canon = 'simple' | 'relaxed';

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const TAB = 0x09;
const CRLF = Buffer.from('\r\n');

export class BodyCanonicalizer {
  readonly #relaxed: boolean;
  readonly #emit: (b: Buffer) => void;
  #pendingEmpty = 0;
  #lineHasContent = false;
  #pendingWsp = false;
  #sawCr = false;
  #anyContent = false;

  constructor(canon: Canon, emit: (b: Buffer) => void) {
    this.#relaxed = canon === 'relaxed';
    this.#emit = emit;
  }

  write(chunk: Buffer): void {
    // Output bound: each input byte yields at most two bytes (a bare LF becomes CRLF; a WSP
    // run becomes one SP before the next byte), plus the empty lines held back earlier.
    const out = Buffer.allocUnsafe(chunk.length * 2 + this.#pendingEmpty * 2 + 4);
    let o = 0;
    const n = chunk.length;
    const relaxed = this.#relaxed;
    let i = 0;
    while (i < n) {
      const b = chunk[i]!;
      if (this.#sawCr) {
        this.#sawCr = false;
        if (b === LF) {
          o = this.#lineEnd(out, o);
          i++;
          continue;
        }
        o = this.#beginContent(out, o);
        out[o++] = CR; // a bare CR is ordinary content
      }
      if (b === CR) {
        this.#sawCr = true;
        i++;
      } else if (b === LF) {
        // A bare LF: a line end, as verifiers treat it after SMTP normalisation.
        o = this.#lineEnd(out, o);
        i++;
      } else if (relaxed && (b === SP || b === TAB)) {
        this.#pendingWsp = true;
        i++;
      } else {
        // A run of ordinary bytes is copied in one go: the per-byte work is only the scan.
        let j = i + 1;
        if (relaxed) {
          for (let c = chunk[j]; j < n && c !== CR && c !== LF && c !== SP && c !== TAB; c = chunk[++j]);
        } else {
          for (let c = chunk[j]; j < n && c !== CR && c !== LF; c = chunk[++j]);
        }
        o = this.#beginContent(out, o);
        o += chunk.copy(out, o, i, j);
        i = j;
      }
    }
    if (o) this.#emit(out.subarray(0, o));
  }

  /** Before content bytes: held-back empty lines were not trailing after all; a WSP run is one SP. */
  #beginContent(out: Buffer, o: number): number {
    if (!this.#lineHasContent) {
      for (; this.#pendingEmpty > 0; this.#pendingEmpty--) {
        out[o++] = CR;
        out[o++] = LF;
      }
      this.#lineHasContent = true;
    }
    if (this.#pendingWsp) {
      out[o++] = SP;
      this.#pendingWsp = false;
    }
    this.#anyContent = true;
    return o;
  }

  #lineEnd(out: Buffer, o: number): number {
    this.#pendingWsp = false; // relaxed: trailing WSP of a line is dropped
    if (this.#lineHasContent) {
      out[o++] = CR;
      out[o++] = LF;
    } else this.#pendingEmpty++;
    this.#lineHasContent = false;
    return o;
  }

  end(): void {
    if (this.#sawCr) {
      // A trailing bare CR is content: held-back empty lines and WSP come before it.
      this.#sawCr = false;
      const prefix = this.#lineHasContent ? '' : '\r\n'.repeat(this.#pendingEmpty);
      this.#emit(Buffer.from(`${prefix}${this.#pendingWsp ? ' ' : ''}\r`, 'latin1'));
      this.#pendingEmpty = 0;
      this.#pendingWsp = false;
      this.#lineHasContent = true;
      this.#anyContent = true;
    }
    if (this.#lineHasContent) this.#emit(CRLF);
    // simple: an empty body is one CRLF (§3.4.3); relaxed: empty (§3.4.4, errata 3192).
    else if (!this.#anyContent && !this.#relaxed) this.#emit(CRLF);
  }
}

/** One header field, canonical, with its CRLF. `value` is what follows the colon (LF or CRLF folding). */
export function canonicalHeader(name: string, value: string, canon: Canon): string {
  if (canon === 'simple') return `${name}:${value.replace(/\r?\n/g, '\r\n')}\r\n`;
  // §3.4.2 deletes WSP (SP, HTAB) only. String#trim would also eat 0xA0, 0x0B and 0x0C,
  // and in a latin1 string 0xA0 is the last octet of UTF-8 "à", "Р", "Š" …: an 8-bit value
  // ending in one would hash differently from every other implementation. Stray CR/LF at
  // either end (never in a milter value) are dropped as before.
  const v = value
    .replace(/\r?\n(?=[ \t])/g, '')
    .replace(/[ \t]+/g, ' ')
    .replace(/^[ \t\r\n]+|[ \t\r\n]+$/g, '');
  return `${name.toLowerCase()}:${v}\r\n`;
}
