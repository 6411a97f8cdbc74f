/**
 * Seeded input mutation for parser fuzz tests (owner: dmarc): byte-level edits of seed
 * inputs — insert, delete, replace, duplicate a slice, splice two seeds — drawn from an
 * alphabet of the characters parsers trip over. Deterministic for a seed, so a failure
 * prints the seed and the input and can be replayed.
 *
 * ```ts
 * const next = mutator(seeds, prng(42), { alphabet: '<>@"();:,.\\' });
 * for (let i = 0; i < 2000; i++) parse(next());
 * ```
 */

/** Characters that are structure in mail headers and records, plus odd white space and 8-bit bytes. */
export const HEADER_ALPHABET = '<>@"()[];:,.\\=/ \t\r\n-_!#%&*+?^`{|}~aZ09\x00\x7f\x80\xa0\xc2\xe2\x80\x8b\xff';

export interface MutatorOptions {
  /** Characters to insert. Default HEADER_ALPHABET. */
  readonly alphabet?: string;
  /** Most edits per input. Default 6. */
  readonly maxEdits?: number;
  /** Inputs are cut to this length. Default 4096. */
  readonly maxLength?: number;
}

export function mutator(seeds: readonly string[], random: () => number, options: MutatorOptions = {}): () => string {
  const alphabet = options.alphabet ?? HEADER_ALPHABET;
  const maxEdits = options.maxEdits ?? 6;
  const maxLength = options.maxLength ?? 4096;
  const int = (n: number) => Math.floor(random() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  return () => {
    let s = pick(seeds);
    const edits = 1 + int(maxEdits);
    for (let e = 0; e < edits; e++) {
      const at = int(s.length + 1);
      switch (int(6)) {
        case 0:
          s = s.slice(0, at) + pick([...alphabet]) + s.slice(at);
          break;
        case 1:
          s = s.slice(0, at) + s.slice(at + 1 + int(4));
          break;
        case 2:
          s = s.slice(0, at) + pick([...alphabet]) + s.slice(at + 1);
          break;
        case 3: {
          const len = int(12);
          s = s.slice(0, at) + s.slice(at, at + len) + s.slice(at);
          break;
        }
        case 4: {
          const other = pick(seeds);
          const from = int(other.length + 1);
          s = s.slice(0, at) + other.slice(from, from + int(24));
          break;
        }
        default:
          s = s.slice(0, at) + pick([...alphabet]).repeat(1 + int(40)) + s.slice(at);
      }
    }
    return s.slice(0, maxLength);
  };
}
