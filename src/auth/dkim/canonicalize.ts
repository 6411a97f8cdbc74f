/**
 * DKIM canonicalisation (RFC 6376 §3.4). The body canonicaliser is streaming: chunks of any
 * size in, canonical bytes out, so a body is never buffered whole and a 16 MB single line
 * costs one pass. Trailing empty lines are held back until content follows (§3.4.3/§3.4.4);
 * `end()` drops them.
 *
 * Two paths give the same bytes. A byte state machine handles everything; but most of a body
 * (base64 attachments, ordinary text) is already canonical — CRLF line ends and, for relaxed,
 * no TAB, no double SP, no SP before a line end — and passes through as it is. So each chunk's
 * interior is searched for the few "anomalies" with one native regular-expression scan, the
 * lines holding one go through the state machine, and the runs of lines between them are
 * handed to `emit` without being copied. The chunk's first line (which may continue the
 * previous chunk) and its trailing line-end/WSP run (which the next chunk decides) always
 * take the state machine.
 */
export type Canon = 'simple' | 'relaxed';

/**
 * The `c=` tag (RFC 6376 §3.5): `header[/body]`, each `simple` or `relaxed` (ABNF literals:
 * case-insensitive); absent is simple/simple, a missing body part is simple. Undefined for
 * anything else. DKIM-Signature and ARC-Message-Signature (RFC 8617 §4.1.2) share it.
 */
export function parseCanonicalization(value: string | undefined): { readonly header: Canon; readonly body: Canon } | undefined {
  if (value === undefined) return { header: 'simple', body: 'simple' };
  const m = /^(simple|relaxed)(?:\/(simple|relaxed))?$/.exec(value.toLowerCase());
  if (!m) return undefined;
  return { header: m[1] as Canon, body: (m[2] ?? 'simple') as Canon };
}

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const TAB = 0x09;
const CRLF = Buffer.from('\r\n');

/** What the state machine must see: a bare CR or LF (both), a TAB, two SP, a SP before CR (relaxed). */
const SIMPLE_ANOMALY = /\r(?!\n)|(?<!\r)\n/g;
const RELAXED_ANOMALY = /\r(?!\n)|(?<!\r)\n|\t| {2}| \r/g;
/** Below this, a chunk goes through the state machine whole (the scan would not pay off). */
const FAST_PATH_MIN = 512;

export class BodyCanonicalizer {
  readonly #relaxed: boolean;
  readonly #emit: (b: Buffer) => void;
  #pendingEmpty = 0;
  #lineHasContent = false;
  #pendingWsp = false;
  #sawCr = false;
  #anyContent = false;
  /** Output of the state machine, emitted in order with the verbatim runs (see #reserve). */
  #out: Buffer = Buffer.alloc(0);
  #o = 0;
  #flushed = 0;

  constructor(canon: Canon, emit: (b: Buffer) => void) {
    this.#relaxed = canon === 'relaxed';
    this.#emit = emit;
  }

  write(chunk: Buffer): void {
    const n = chunk.length;
    if (n === 0) return;
    const firstLf = n < FAST_PATH_MIN ? -1 : chunk.indexOf(LF);
    if (firstLf < 0) {
      this.#machine(chunk, 0, n);
      this.#flush();
      return;
    }
    // The trailing run the next chunk decides: line ends, and in relaxed mode WSP too.
    let q = n;
    for (let c = chunk[q - 1]!; q > firstLf + 1 && (c === CR || c === LF || (this.#relaxed && (c === SP || c === TAB))); c = chunk[--q - 1]!);
    this.#machine(chunk, 0, firstLf + 1); // ends at a line start: no partial line, no pending WSP, no CR
    const p = firstLf + 1;
    if (q > p) {
      const s = chunk.toString('latin1', p, q);
      const re = this.#relaxed ? RELAXED_ANOMALY : SIMPLE_ANOMALY;
      re.lastIndex = 0;
      let cursor = 0;
      for (let m = re.exec(s); m; m = re.exec(s)) {
        const x = m.index;
        const ls = x === 0 ? 0 : s.lastIndexOf('\n', x - 1) + 1;
        const lf = s.indexOf('\n', x);
        const le = lf < 0 ? s.length : lf + 1;
        this.#verbatim(chunk, p + cursor, p + ls);
        this.#machine(chunk, p + ls, p + le);
        cursor = le;
        re.lastIndex = le;
      }
      this.#verbatim(chunk, p + cursor, q);
    }
    this.#machine(chunk, q, n);
    this.#flush();
  }

  /**
   * Room for `bytes` more octets of state-machine output. Output goes into blocks that are
   * filled front to back and never rewritten, so every buffer handed to `emit` stays valid.
   */
  #reserve(bytes: number): void {
    if (this.#o + bytes <= this.#out.length) return;
    this.#flush();
    this.#out = Buffer.allocUnsafe(Math.max(bytes, 16384));
    this.#o = 0;
    this.#flushed = 0;
  }

  #flush(): void {
    if (this.#o > this.#flushed) this.#emit(this.#out.subarray(this.#flushed, this.#o));
    this.#flushed = this.#o;
  }

  /**
   * Lines already canonical, from a line start to a line end (or to the last content octet
   * before the chunk's trailing run): passed on as they are. Empty lines at their end are
   * held back like any others.
   */
  #verbatim(chunk: Buffer, a: number, b: number): void {
    if (a >= b) return;
    let e = b;
    let k = 0;
    // Trailing empty lines: CRLFs directly after a line end (or at the start).
    while (e - 2 >= a && chunk[e - 1] === LF && chunk[e - 2] === CR && (e - 2 === a || chunk[e - 3] === LF)) {
      e -= 2;
      k++;
    }
    if (e > a) {
      if (this.#pendingEmpty > 0) {
        this.#reserve(this.#pendingEmpty * 2);
        for (; this.#pendingEmpty > 0; this.#pendingEmpty--) {
          this.#out[this.#o++] = CR;
          this.#out[this.#o++] = LF;
        }
      }
      this.#flush();
      this.#emit(chunk.subarray(a, e));
      this.#anyContent = true;
      this.#lineHasContent = chunk[e - 1] !== LF;
    }
    this.#pendingEmpty += k;
  }

  /** The byte state machine over chunk[from, to). */
  #machine(chunk: Buffer, from: number, to: number): void {
    if (from >= to) return;
    // Each input byte yields at most two (a bare LF becomes CRLF; a WSP run one SP before the
    // next byte), plus the empty lines held back earlier.
    this.#reserve((to - from) * 2 + this.#pendingEmpty * 2 + 4);
    const out = this.#out;
    let o = this.#o;
    const relaxed = this.#relaxed;
    let i = from;
    while (i < to) {
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
          for (let c = chunk[j]; j < to && c !== CR && c !== LF && c !== SP && c !== TAB; c = chunk[++j]);
        } else {
          for (let c = chunk[j]; j < to && c !== CR && c !== LF; c = chunk[++j]);
        }
        o = this.#beginContent(out, o);
        o += chunk.copy(out, o, i, j);
        i = j;
      }
    }
    this.#o = o;
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

/**
 * One header field, canonical, with its CRLF. `value` is what follows the colon (LF or CRLF
 * folding), as latin1 octets.
 *
 * relaxed (§3.4.2): name lower-cased, unfolded, WSP runs to one SP, WSP before and after the
 * colon and at the end deleted. Only SP and HTAB are WSP: `String#trim` would also eat
 * 0xA0 (NBSP in latin1), 0x0B and 0x0C, which are content of 8-bit header values.
 */
export function canonicalHeader(name: string, value: string, canon: Canon): string {
  if (canon === 'simple') return `${name}:${value.replace(/\r?\n/g, '\r\n')}\r\n`;
  // Most values are one line with single spaces: then only the edges change.
  if (!/[\r\n\t]| {2}/.test(value)) return `${name.replace(/[ \t]+$/, '').toLowerCase()}:${value.replace(/^ | $/g, '')}\r\n`;
  // Stray CR/LF at either end (never in a milter value) are dropped with the WSP.
  const v = value
    .replace(/\r?\n(?=[ \t])/g, '')
    .replace(/[ \t]+/g, ' ')
    .replace(/^[ \t\r\n]+|[ \t\r\n]+$/g, '');
  return `${name.replace(/[ \t]+$/, '').toLowerCase()}:${v}\r\n`;
}
