/**
 * DKIM signing (RFC 6376; Ed25519 per RFC 8463) on node:crypto. The body hash is computed
 * while the body streams (one hash per canonicalisation, shared by all keys); the header
 * hash at end of message from the byte-exact header values the milter received.
 */
import { createHash, sign, type Hash, type KeyObject } from 'node:crypto';
import type { SigningKey } from '../../keys/signing-keys.ts';
import { BodyCanonicalizer, canonicalHeader, type Canon } from './canonicalize.ts';

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
 * `h=`: each configured name as often as it occurs (RFC 6376 §5.4.2 signs instances bottom
 * up), `from` once more than it occurs — the extra entry matches no header, so a From added
 * later breaks the signature (oversigning).
 */
export function headerList(headers: ReadonlyArray<readonly [string, string]>, names: readonly string[]): string[] {
  const count = new Map<string, number>();
  for (const [n] of headers) count.set(n.toLowerCase(), (count.get(n.toLowerCase()) ?? 0) + 1);
  const out: string[] = [];
  const seen = new Set<string>();
  for (const raw of ['from', ...names]) {
    const n = raw.toLowerCase();
    if (seen.has(n)) continue;
    seen.add(n);
    const c = count.get(n) ?? 0;
    for (let i = 0; i < c + (n === 'from' ? 1 : 0); i++) out.push(n);
  }
  return out;
}

/** The canonical header block for `h=`, bottom-up instance selection (§5.4.2). */
function signedHeaders(headers: ReadonlyArray<readonly [string, string]>, h: readonly string[], canon: Canon): string {
  const used = new Map<string, number>();
  let text = '';
  for (const n of h) {
    const k = used.get(n) ?? 0;
    used.set(n, k + 1);
    const instances = headers.filter(([name]) => name.toLowerCase() === n);
    const hit = instances[instances.length - 1 - k];
    if (hit) text += canonicalHeader(hit[0], hit[1], canon);
  }
  return text;
}

/** Folds `tag=value` items to lines of at most 78 columns (header name included on the first). */
function foldTags(tags: readonly string[], firstLineUsed: number): string {
  let line = firstLineUsed;
  let out = '';
  for (const [i, tag] of tags.entries()) {
    const piece = `${tag};`;
    const sep = i === 0 ? ' ' : ' ';
    if (i > 0 && line + sep.length + piece.length > 78) {
      out += '\r\n\t';
      line = 8;
    } else if (i > 0) {
      out += sep;
      line += sep.length;
    }
    out += piece;
    line += piece.length;
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
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly bodyHash: string;
  readonly canonicalization: Canonicalization;
  readonly signHeaders: readonly string[];
  readonly timestamp: number; // unix seconds
  readonly expiresInSec?: number;
}

/**
 * The DKIM-Signature header value (after the colon, without the leading space; CRLF
 * folding). Signed as if inserted with one space after the colon, which is how the milter
 * session inserts it. The private-key operation runs on libuv's thread pool (the callback
 * form of `crypto.sign`), so signing uses the other cores instead of blocking every session.
 */
function signAsync(algorithm: string | null, data: Buffer, key: KeyObject): Promise<Buffer> {
  return new Promise((resolve, reject) => sign(algorithm, data, key, (err, sig) => (err ? reject(err) : resolve(sig))));
}

export async function signMessage(r: SignRequest): Promise<string> {
  const [hc] = r.canonicalization.split('/') as [Canon, Canon];
  const h = headerList(r.headers, r.signHeaders);
  const tags = [
    'v=1',
    `a=${r.key.algorithm}`,
    `c=${r.canonicalization}`,
    `d=${r.key.domain}`,
    `s=${r.key.selector}`,
    `t=${r.timestamp}`,
    ...(r.expiresInSec ? [`x=${r.timestamp + r.expiresInSec}`] : []),
    `h=${h.join(':')}`,
    `bh=${r.bodyHash}`,
  ];
  const head = `${foldTags(tags, 'DKIM-Signature: '.length)}\r\n\tb=`;
  const data = signedHeaders(r.headers, h, hc) + canonicalHeader('DKIM-Signature', ` ${head}`, hc).replace(/\r\n$/, '');
  const input = Buffer.from(data, 'latin1');
  const signature =
    r.key.algorithm === 'ed25519-sha256'
      ? await signAsync(null, createHash('sha256').update(input).digest(), r.key.privateKey) // RFC 8463 §3: Ed25519 over the SHA-256 hash
      : await signAsync('sha256', input, r.key.privateKey);
  return `${head}${foldValue(signature.toString('base64'), 78 - 10)}`;
}
