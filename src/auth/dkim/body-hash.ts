/**
 * Body hashes for every signature of a message, computed while the body streams: one
 * canonicaliser per canonicalisation, one SHA-256 per distinct (canonicalisation, l=)
 * pair — however many DKIM-Signature and ARC-Message-Signature fields ask for it. Ten
 * signatures with the same c= and no l= cost one pass over the body.
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
  readonly hash: Hash;
  readonly limit: number;
  taken: number;
  digest?: Buffer;
}

interface Lane {
  readonly canonicalizer: BodyCanonicalizer;
  readonly hashers: Hasher[];
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
      const h: Hasher = { hash: createHash('sha256'), limit, taken: 0 };
      this.#hashers.set(key, h);
      this.#lane(r.canon).hashers.push(h);
    }
    return { canon: r.canon, key };
  }

  #lane(canon: Canon): Lane {
    let lane = this.#lanes.get(canon);
    if (!lane) {
      const l: Lane = {
        hashers: [],
        length: 0,
        canonicalizer: new BodyCanonicalizer(canon, (bytes) => {
          l.length += bytes.length;
          for (const h of l.hashers) {
            if (h.taken >= h.limit) continue;
            const room = h.limit - h.taken;
            const piece = bytes.length <= room ? bytes : bytes.subarray(0, room);
            h.hash.update(piece);
            h.taken += piece.length;
          }
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
      for (const h of lane.hashers) h.digest = h.hash.digest();
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
