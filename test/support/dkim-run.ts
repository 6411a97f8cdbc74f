/**
 * Driving the DKIM verifier the way the milter stages do (owner: dkim): header fields as
 * Postfix hands them over, the body streamed in chunks into a shared BodyHashSet, and
 * mailauth's verifier in strict mode over the same message and DNS data as the oracle.
 */
import { createHash, createPublicKey, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { createRequire } from 'node:module';
import { BodyHashSet } from '../../src/auth/dkim/body-hash.ts';
import { BodyCanonicalizer, type Canon } from '../../src/auth/dkim/canonicalize.ts';
import { headerHashInput, selectSignedFields } from '../../src/auth/dkim/header-hash.ts';
import { KeyParseCache } from '../../src/auth/dkim/key-lookup.ts';
import { DkimVerifier } from '../../src/auth/dkim/verify.ts';
import type { DkimSignatureCheck } from '../../src/auth/results.ts';
import { mailauthResolver } from './mailauth-resolver.ts';
import type { DnsLookup } from '../../src/dns/types.ts';
import type { HeaderField } from '../../src/mail/header.ts';
import { splitMessage } from './raw-message.ts';

const require = createRequire(import.meta.url);

/** Header fields (LF folding, leading space kept, as the milter receives them) and the CRLF body. */
export function messageParts(raw: Buffer): { headers: HeaderField[]; body: Buffer } {
  const { headers, body } = splitMessage(raw);
  return { headers: headers.map(([name, value]) => ({ name, value })), body };
}

export interface VerifyOptions {
  readonly dns: DnsLookup;
  readonly keyCache?: KeyParseCache;
  /** ms since the epoch. Default: 2026-12-01. */
  readonly now?: number;
  readonly minKeyBits?: number;
  readonly maxSignatures?: number;
  /** Body chunk size. Default 65536 (Postfix's milter body chunk). */
  readonly chunk?: number;
  readonly signal?: AbortSignal;
}

export const TEST_NOW = Date.UTC(2026, 11, 1);

export async function verifyMessage(raw: Buffer, o: VerifyOptions): Promise<{ checks: DkimSignatureCheck[]; skipped: number }> {
  const { headers, body } = messageParts(raw);
  const v = new DkimVerifier({
    dns: o.dns,
    keyCache: o.keyCache ?? new KeyParseCache(),
    now: () => o.now ?? TEST_NOW,
    minKeyBits: o.minKeyBits ?? 1024,
    maxSignatures: o.maxSignatures ?? 8,
    ...(o.signal ? { signal: o.signal } : {}),
  });
  const set = new BodyHashSet();
  v.start(headers, set);
  const chunk = o.chunk ?? 65536;
  for (let i = 0; i < body.length; i += chunk) set.write(body.subarray(i, i + chunk));
  set.end();
  return { checks: await v.finish(), skipped: v.skipped };
}

export interface MailauthStatus {
  readonly result: string;
  readonly comment?: string;
}

/** mailauth 7's dkimVerify in strict mode (RFC 6376/8301/8463 as it reads them), same DNS. */
export async function mailauthStrict(raw: Buffer, o: { readonly dns: DnsLookup; readonly now?: number; readonly minKeyBits?: number }): Promise<MailauthStatus[]> {
  const { dkimVerify } = require('mailauth/lib/dkim/verify.js') as {
    dkimVerify(m: Buffer, opts: object): Promise<{ results: Array<{ status: { result: string; comment?: string } }> }>;
  };
  const r = await dkimVerify(raw, { resolver: mailauthResolver(o.dns), strict: true, minBitLength: o.minKeyBits ?? 1024, curTime: new Date(o.now ?? TEST_NOW) });
  return r.results.map((x) => ({ result: x.status.result, ...(x.status.comment ? { comment: x.status.comment } : {}) }));
}

/**
 * Signs `raw` with a hand-written tag list (everything but bh= and b=, e.g.
 * `v=1; a=rsa-sha256; c=relaxed/simple; d=x.test; s=s1; h=from:to; l=10`): bh= over the
 * canonical body (l= honoured), b= with the shared field selection — so tests can make the
 * signatures our signer never would (l=, i=, x=, rsa-sha1, odd c=). Returns the message with
 * the DKIM-Signature on top. `mutate` may change the field text after signing.
 */
export function signRaw(raw: Buffer, tagText: string, key: KeyObject, o: { readonly mutate?: (value: string) => string } = {}): Buffer {
  // A loose read of the caller's tags (they may be broken on purpose): first occurrence wins.
  const loose = new Map<string, string>();
  for (const spec of tagText.split(';')) {
    const eq = spec.indexOf('=');
    if (eq > 0 && !loose.has(spec.slice(0, eq).trim())) loose.set(spec.slice(0, eq).trim(), spec.slice(eq + 1).trim());
  }
  const get = (t: string): string | undefined => loose.get(t);
  const algorithm = (get('a') ?? 'rsa-sha256').toLowerCase();
  const hashAlg = algorithm.endsWith('sha1') ? 'sha1' : 'sha256';
  const [hc = 'simple', bc = 'simple'] = (get('c') ?? 'simple/simple').toLowerCase().split('/') as Canon[];
  const { headers, body } = messageParts(raw);
  const limit = get('l') === undefined ? Number.POSITIVE_INFINITY : Number(get('l'));
  const hash = createHash(hashAlg);
  let taken = 0;
  const canon = new BodyCanonicalizer(bc, (b) => {
    const piece = b.subarray(0, Math.max(0, Math.min(b.length, limit - taken)));
    hash.update(piece);
    taken += piece.length;
  });
  canon.write(body);
  canon.end();
  const value = ` ${tagText}; bh=${hash.digest('base64')};\r\n\tb=`;
  const h = (get('h') ?? 'from').split(':').map((n) => n.trim().toLowerCase());
  const input = headerHashInput(selectSignedFields(headers, h), { name: 'DKIM-Signature', value }, hc);
  const b =
    key.asymmetricKeyType === 'ed25519'
      ? cryptoSign(null, createHash('sha256').update(input).digest(), key)
      : cryptoSign(hashAlg, input, key);
  const b64 = b.toString('base64');
  const folded = b64.replace(/(.{64})(?=.)/g, '$1\r\n\t');
  const field = `DKIM-Signature:${o.mutate ? o.mutate(value + folded) : value + folded}\r\n`;
  return Buffer.concat([Buffer.from(field, 'latin1'), raw]);
}

/** The DKIM key TXT record for a public (or private) key: SPKI, PKCS#1 (`pkcs1: true`) or RFC 8463 raw Ed25519. */
export function keyRecord(key: KeyObject, extra = '', o: { readonly pkcs1?: boolean } = {}): string {
  const pub = createPublicKey(key);
  if (pub.asymmetricKeyType === 'ed25519') return `v=DKIM1; k=ed25519;${extra ? ` ${extra};` : ''} p=${Buffer.from(pub.export({ format: 'jwk' }).x!, 'base64url').toString('base64')}`;
  const der = pub.export({ type: o.pkcs1 ? 'pkcs1' : 'spki', format: 'der' });
  return `v=DKIM1; k=rsa;${extra ? ` ${extra};` : ''} p=${der.toString('base64')}`;
}
