/**
 * What the reader had to be lenient about in one report (an empty `<org_name>`, invalid
 * UTF-8, trailing bytes after the gzip member …), each distinct message once with how
 * often it happened. Bounded: a 100 MB report with a quirk in every row keeps one line.
 */
const MAX_DISTINCT = 20;

export class Warnings {
  readonly #counts = new Map<string, number>();
  #dropped = 0;

  add(message: string, times = 1): void {
    const n = this.#counts.get(message);
    if (n !== undefined) this.#counts.set(message, n + times);
    else if (this.#counts.size < MAX_DISTINCT) this.#counts.set(message, times);
    else this.#dropped += times;
  }

  merge(other: Warnings): void {
    for (const [m, n] of other.#counts) this.add(m, n);
    this.#dropped += other.#dropped;
  }

  /** A new list that starts with these warnings: a container's leniencies apply to each part. */
  child(): Warnings {
    const w = new Warnings();
    w.merge(this);
    return w;
  }

  list(): string[] {
    const out = [...this.#counts].map(([m, n]) => (n > 1 ? `${m} (${n} times)` : m));
    if (this.#dropped) out.push(`${this.#dropped} more warning(s) not listed`);
    return out;
  }

  get size(): number {
    return this.#counts.size;
  }
}
