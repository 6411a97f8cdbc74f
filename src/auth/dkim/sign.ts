/**
 * DKIM signing (RFC 6376; Ed25519 per RFC 8463) on node:crypto. The body hash is computed
 * while the body streams (one hash per canonicalisation, shared by all keys); the header
 * hash at end of message from the byte-exact header values the milter received.
 */
import { createHash, sign, type Hash, type KeyObject } from 'node:crypto';
import type { SigningKey } from '../../keys/signing-keys.ts';
import type { HeaderField } from '../../mail/header.ts';
import { BodyCanonicalizer, type Canon } from './canonicalize.ts';
import { headerHashInput, selectSignedFields } from './header-hash.ts';

export type Canonicalization = `${Canon}/${Canon}`;

export class BodyHasher {
  readonly #hash: Hash = createHash('sha256');
  readonly #canon: BodyCanonicalizer;
  #bytes = 0;
  #digest: string | undefined;

  constructor(canon: Canon) {
    this.#canon = new BodyCanonicalizer(canon, (b) => {
      this.#bytes += b.length;
      this.#hash.update(b);
    });
  }

  write(chunk: Buffer): void {
    this.#canon.write(chunk);
  }

  /** base64 SHA-256 of the canonical body (`bh=`). */
  digest(): string {
    if (this.#digest === undefined) {
      this.#canon.end();
      this.#digest = this.#hash.digest('base64');
    }
    return this.#digest;
  }

  get canonicalBytes(): number {
    return this.#bytes;
  }
}

/**
 * `h=` (RFC 6376 §5.4, §5.4.2): every present instance of each name in `sign`, bottom-up,
 * and for each name in `oversign` one entry more than it occurs — the extra entry matches no
 * field, so a field of that name added anywhere later breaks the signature (oversigning,
 * §8.15). From is always signed and oversigned (§5.4: "The From header field MUST be
 * signed"). A name ending in `*` (e.g. `list-*`) stands for every present field with that
 * prefix; it cannot oversign fields that are absent, so list those by name.
 */
export function headerList(headers: ReadonlyArray<readonly [string, string]>, sign: readonly string[], oversign: readonly string[] = []): string[] {
  const count = new Map<string, number>();
  for (const [n] of headers) {
    const k = n.trim().toLowerCase();
    count.set(k, (count.get(k) ?? 0) + 1);
  }
  const expand = (names: readonly string[]): string[] =>
    names.flatMap((raw) => {
      const n = raw.trim().toLowerCase();
      if (!n.endsWith('*')) return [n];
      const prefix = n.slice(0, -1);
      return [...count.keys()].filter((k) => k.startsWith(prefix));
    });
  const over = new Set(['from', ...expand(oversign)]);
  const out: string[] = [];
  const seen = new Set<string>();
  for (const n of ['from', ...expand(sign), ...over]) {
    if (seen.has(n) || n === '') continue;
    seen.add(n);
    const c = count.get(n) ?? 0;
    for (let i = 0; i < c + (over.has(n) ? 1 : 0); i++) out.push(n);
  }
  return out;
}

/**
 * Folds `tag=value;` items to lines of at most 78 columns (header name included on the
 * first, RFC 5322 §2.1.1). Each item is a list of pieces that may be split between (h= at
 * its colons, where §3.5 allows FWS); a piece is never split.
 */
function foldTags(tags: ReadonlyArray<readonly string[]>, firstLineUsed: number): string {
  let line = firstLineUsed;
  let out = '';
  for (const [i, pieces] of tags.entries()) {
    for (const [j, raw] of pieces.entries()) {
      const piece = j === pieces.length - 1 ? `${raw};` : raw;
      const sep = i > 0 && j === 0 ? ' ' : '';
      if ((i > 0 || j > 0) && line + sep.length + piece.length > 78) {
        out += '\r\n\t';
        line = 8;
      } else {
        out += sep;
        line += sep.length;
      }
      out += piece;
      line += piece.length;
    }
  }
  return out;
}

/** Splits a long base64 value into folded pieces. */
function foldValue(value: string, firstRoom: number): string {
  const parts: string[] = [];
  let rest = value;
  let room = Math.max(firstRoom, 8);
  while (rest.length > room) {
    parts.push(rest.slice(0, room));
    rest = rest.slice(room);
    room = 70;
  }
  parts.push(rest);
  return parts.join('\r\n\t');
}

export interface SignRequest {
  readonly key: SigningKey;
  /** The header fields as the milter received them: name, value after the colon (folding as LF or CRLF). */
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly bodyHash: string;
  readonly canonicalization: Canonicalization;
  readonly signHeaders: readonly string[];
  /** Names oversigned (`outbound.oversign`); From always is. */
  readonly oversignHeaders?: readonly string[];
  readonly timestamp: number; // unix seconds
  /** x= = t= + this (`outbound.signature_ttl`); no x= when absent or 0. */
  readonly expiresInSec?: number;
}

/**
 * The private-key operation runs on libuv's thread pool (the callback form of
 * `crypto.sign`), so signing uses the other cores instead of blocking every session.
 */
function signAsync(algorithm: string | null, data: Buffer, key: KeyObject): Promise<Buffer> {
  return new Promise((resolve, reject) => sign(algorithm, data, key, (err, sig) => (err ? reject(err) : resolve(sig))));
}

/**
 * The b= value for a DKIM-Signature whose value (after the colon, b= empty or absent of its
 * value) is `value`: the same field selection and hash input the verifier builds
 * (header-hash.ts), then RSASSA-PKCS1-v1_5 SHA-256 or Ed25519 over the SHA-256 of the input
 * (RFC 8463 §3). Both are deterministic, so the same key and text give the same b=.
 */
export async function signatureValue(r: {
  readonly key: Pick<SigningKey, 'algorithm' | 'privateKey'>;
  readonly headers: readonly HeaderField[];
  readonly h: readonly string[];
  readonly value: string;
  readonly headerCanon: Canon;
}): Promise<string> {
  const field: HeaderField = { name: 'DKIM-Signature', value: r.value };
  const input = headerHashInput(selectSignedFields(r.headers, r.h), field, r.headerCanon);
  const signature =
    r.key.algorithm === 'ed25519-sha256'
      ? await signAsync(null, createHash('sha256').update(input).digest(), r.key.privateKey)
      : await signAsync('sha256', input, r.key.privateKey);
  return signature.toString('base64');
}

/**
 * The DKIM-Signature header value (after the colon, without the leading space; CRLF
 * folding). Signed as if inserted with one space after the colon, which is how the milter
 * session inserts it.
 */
export async function signMessage(r: SignRequest): Promise<string> {
  const [hc] = r.canonicalization.split('/') as [Canon, Canon];
  const h = headerList(r.headers, r.signHeaders, r.oversignHeaders);
  const tags: string[][] = [
    ['v=1'],
    [`a=${r.key.algorithm}`],
    [`c=${r.canonicalization}`],
    [`d=${r.key.domain}`],
    [`s=${r.key.selector}`],
    [`t=${r.timestamp}`],
    ...(r.expiresInSec ? [[`x=${r.timestamp + r.expiresInSec}`]] : []),
    h.map((n, i) => `${i === 0 ? 'h=' : ''}${n}${i < h.length - 1 ? ':' : ''}`),
    [`bh=${r.bodyHash}`],
  ];
  const head = `${foldTags(tags, 'DKIM-Signature: '.length)}\r\n\tb=`;
  const headers = r.headers.map(([name, value]) => ({ name, value }));
  const b = await signatureValue({ key: r.key, headers, h, value: ` ${head}`, headerCanon: hc });
  return `${head}${foldValue(b, 78 - 10)}`;
}
