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
    // Worst case output: every byte plus held-back CRLFs.
    const out = Buffer.allocUnsafe(chunk.length * 2 + this.#pendingEmpty * 2 + 4);
    let o = 0;
    const content = (b: number): void => {
      if (!this.#lineHasContent) {
        if (this.#pendingEmpty) {
          // Flush held-back empty lines: they were not trailing after all.
          let need = this.#pendingEmpty * 2;
          if (o + need > out.length - 2) {
            this.#emit(out.subarray(0, o));
            o = 0;
          }
          for (; need > 0; need -= 2) {
            out[o++] = CR;
            out[o++] = LF;
          }
          this.#pendingEmpty = 0;
        }
        this.#lineHasContent = true;
      }
      if (this.#pendingWsp) {
        out[o++] = SP;
        this.#pendingWsp = false;
      }
      out[o++] = b;
      this.#anyContent = true;
    };
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]!;
      if (this.#sawCr) {
        this.#sawCr = false;
        if (b === LF) {
          this.#pendingWsp = false; // relaxed: trailing WSP of a line is dropped
          if (this.#lineHasContent) {
            out[o++] = CR;
            out[o++] = LF;
          } else this.#pendingEmpty++;
          this.#lineHasContent = false;
          continue;
        }
        content(CR); // a bare CR is ordinary content
      }
      if (b === CR) {
        this.#sawCr = true;
      } else if (this.#relaxed && (b === SP || b === TAB)) {
        this.#pendingWsp = true;
      } else if (b === LF) {
        // A bare LF: treat as a line end, as verifiers do after SMTP normalisation.
        this.#pendingWsp = false;
        if (this.#lineHasContent) {
          out[o++] = CR;
          out[o++] = LF;
        } else this.#pendingEmpty++;
        this.#lineHasContent = false;
      } else {
        content(b);
      }
    }
    if (o) this.#emit(out.subarray(0, o));
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
  const v = value
    .replace(/\r?\n(?=[ \t])/g, '')
    .replace(/[ \t]+/g, ' ')
    .trim();
  return `${name.toLowerCase()}:${v}\r\n`;
}
