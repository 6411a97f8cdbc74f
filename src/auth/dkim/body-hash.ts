/**
 * Body hashes for every signature of a message, computed while the body streams: one
 * canonicaliser per canonicalisation, one digest per distinct (canonicalisation, l=) pair —
 * however many DKIM-Signature and ARC-Message-Signature fields ask for it. Ten signatures
 * with the same c= and no l= cost one pass over the body.
 *
 * Different l= values of one canonicalisation share one running SHA-256 too: when the
 * canonical body reaches an l=, the running state is copied (`Hash#copy`) and that copy
 * finished. So a sender cannot multiply our hashing work with signatures that differ only
 * in l=: every canonicalisation costs one pass whatever the signatures ask.
 */
import { createHash, type Hash } from 'node:crypto';
import { BodyCanonicalizer, type Canon } from './canonicalize.ts';

export interface BodyHashRequest {
  readonly canon: Canon;
  /** `l=`: hash only this many canonical octets (RFC 6376 §3.4.5); undefined = all. */
  readonly limit?: number;
}

export interface BodyHashResult {
  /** SHA-256 of the (possibly truncated) canonical body. */
  readonly digest: Buffer;
  /** Length of the whole canonical body, to compare with `l=`. */
  readonly canonicalLength: number;
}

interface Hasher {
  readonly limit: number;
  digest?: Buffer;
}

interface Lane {
  readonly canonicalizer: BodyCanonicalizer;
  /** SHA-256 of the canonical body so far. */
  readonly running: Hash;
  /** Hashers with a finite l= not reached yet, smallest first. */
  readonly cuts: Hasher[];
  /** Hashers of the whole body (no l=). */
  readonly whole: Hasher[];
  length: number;
}

export type BodyHashHandle = Readonly<{ canon: Canon; key: string }>;

export class BodyHashSet {
  readonly #lanes = new Map<Canon, Lane>();
  readonly #hashers = new Map<string, Hasher>();
  #ended = false;
  #written = false;

  /**
   * Registers a hash before the body starts; the same request returns the same handle. A
   * request once body bytes were written would hash only the rest of the body, so it throws.
   */
  request(r: BodyHashRequest): BodyHashHandle {
    if (this.#ended) throw new Error('BodyHashSet: request after end');
    if (this.#written) throw new Error('BodyHashSet: request after the body started');
    const limit = r.limit === undefined ? Number.POSITIVE_INFINITY : Math.max(0, r.limit);
    const key = `${r.canon}/${limit}`;
    if (!this.#hashers.has(key)) {
      const h: Hasher = { limit };
      this.#hashers.set(key, h);
      const lane = this.#lane(r.canon);
      if (limit === Number.POSITIVE_INFINITY) lane.whole.push(h);
      else {
        lane.cuts.push(h);
        lane.cuts.sort((a, b) => a.limit - b.limit);
      }
    }
    return { canon: r.canon, key };
  }

  #lane(canon: Canon): Lane {
    let lane = this.#lanes.get(canon);
    if (!lane) {
      const l: Lane = {
        running: createHash('sha256'),
        cuts: [],
        whole: [],
        length: 0,
        canonicalizer: new BodyCanonicalizer(canon, (bytes) => {
          // l.length is the canonical offset of bytes[0] until the loop is done.
          let off = 0;
          while (l.cuts.length > 0 && l.cuts[0]!.limit <= l.length + bytes.length) {
            const h = l.cuts.shift()!;
            const upto = h.limit - l.length;
            if (upto > off) {
              l.running.update(bytes.subarray(off, upto));
              off = upto;
            }
            h.digest = l.running.copy().digest();
          }
          if (off < bytes.length) l.running.update(off === 0 ? bytes : bytes.subarray(off));
          l.length += bytes.length;
        }),
      };
      lane = l;
      this.#lanes.set(canon, l);
    }
    return lane;
  }

  /** True when nothing was requested: the body need not be looked at. */
  get empty(): boolean {
    return this.#hashers.size === 0;
  }

  write(chunk: Buffer): void {
    if (this.#ended) throw new Error('BodyHashSet: write after end');
    if (chunk.length === 0) return;
    this.#written = true;
    for (const lane of this.#lanes.values()) lane.canonicalizer.write(chunk);
  }

  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    for (const lane of this.#lanes.values()) {
      lane.canonicalizer.end();
      // l= values beyond the body: the whole (shorter) body is what they cover.
      for (const h of lane.cuts) h.digest = lane.running.copy().digest();
      lane.cuts.length = 0;
      const whole = lane.running.digest();
      for (const h of lane.whole) h.digest = whole;
    }
  }

  /** True once `end()` was called: every result is ready. */
  get ended(): boolean {
    return this.#ended;
  }

  result(handle: BodyHashHandle): BodyHashResult {
    if (!this.#ended) throw new Error('BodyHashSet: result before end');
    const h = this.#hashers.get(handle.key)!;
    return { digest: h.digest!, canonicalLength: this.#lanes.get(handle.canon)!.length };
  }
}
