/**
 * A streaming mbox splitter (RFC 4155; mboxo, mboxrd): bytes in by chunks, whole messages
 * out. A message starts at a `From ` line at the start of the file or after an empty line
 * — an unescaped `From ` inside a body (mboxcl writers) then stays in its message — and
 * mboxrd's `>From ` quoting is undone. Pure and bounded: a message over `maxMessage` bytes
 * is reported as too large and skipped up to the next separator, never buffered.
 */

export type MboxItem = { readonly message: Buffer; readonly index: number } | { readonly tooLarge: number; readonly index: number };

const FROM = Buffer.from('From ');

export class MboxSplitter {
  readonly #max: number;
  #partial: Buffer = Buffer.alloc(0); // an incomplete last line
  #lines: Buffer[] = [];
  #size = 0;
  #overflow = false;
  #started = false;
  #previousEmpty = true;
  #index = 0;

  constructor(maxMessage: number) {
    this.#max = maxMessage;
  }

  push(chunk: Uint8Array): MboxItem[] {
    const out: MboxItem[] = [];
    let data = this.#partial.length ? Buffer.concat([this.#partial, chunk]) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let start = 0;
    for (let nl = data.indexOf(0x0a, start); nl >= 0; nl = data.indexOf(0x0a, start)) {
      this.#line(data.subarray(start, nl + 1), out);
      start = nl + 1;
    }
    data = data.subarray(start);
    // A line longer than the message bound cannot belong to a message we keep.
    if (data.length > this.#max) {
      if (this.#started) {
        this.#overflow = true;
        this.#size += data.length;
        this.#lines = [];
      }
      this.#previousEmpty = false;
      data = Buffer.alloc(0);
    }
    this.#partial = Buffer.from(data);
    return out;
  }

  end(): MboxItem[] {
    const out: MboxItem[] = [];
    if (this.#partial.length) this.#line(this.#partial, out);
    this.#partial = Buffer.alloc(0);
    this.#flush(out);
    return out;
  }

  #line(line: Buffer, out: MboxItem[]): void {
    const isEmpty = line.length === 1 || (line.length === 2 && line[0] === 0x0d);
    if (this.#previousEmpty && line.subarray(0, 5).equals(FROM)) {
      this.#flush(out);
      this.#started = true;
      this.#previousEmpty = false;
      return;
    }
    this.#previousEmpty = isEmpty;
    if (!this.#started) return; // bytes before the first separator: not an mbox message
    // mboxrd: ">From ", ">>From " … lose one ">".
    let l = line;
    if (l[0] === 0x3e) {
      let i = 0;
      while (l[i] === 0x3e) i++;
      if (l.subarray(i, i + 5).equals(FROM)) l = l.subarray(1);
    }
    if (this.#overflow) return;
    this.#size += l.length;
    if (this.#size > this.#max) {
      this.#overflow = true;
      this.#lines = [];
      return;
    }
    this.#lines.push(Buffer.from(l));
  }

  #flush(out: MboxItem[]): void {
    if (!this.#started) return;
    const index = ++this.#index;
    if (this.#overflow) out.push({ tooLarge: this.#size, index });
    else {
      // The empty line before the next separator belongs to the mbox, not the message.
      const lines = this.#lines;
      const last = lines.at(-1);
      if (last && (last.length === 1 || (last.length === 2 && last[0] === 0x0d))) lines.pop();
      out.push({ message: Buffer.concat(lines), index });
    }
    this.#lines = [];
    this.#size = 0;
    this.#overflow = false;
  }
}
