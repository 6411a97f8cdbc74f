/**
 * The DKIM key record (RFC 6376 §3.6.1, Ed25519 per RFC 8463 §4), parsed into a ready
 * KeyObject. Pure: the lookup (key-lookup.ts) fetches the TXT text, this decides what it
 * says. Parsing a key is the expensive part of verification, so key-lookup caches the
 * result per record text.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { compact, isBase64, parseTagList } from './tags.ts';

export type DkimKeyType = 'rsa' | 'ed25519';

export interface DkimPublicKey {
  readonly type: DkimKeyType;
  readonly key: KeyObject;
  /** RSA modulus length; 256 for Ed25519. */
  readonly bits: number;
  /** `h=`: acceptable hash algorithms; undefined means any (§3.6.1). */
  readonly hashes?: readonly string[];
  /** `t=y`: testing. */
  readonly testing: boolean;
  /** `t=s`: the i= domain must equal d=, not a subdomain (§3.6.1). */
  readonly strict: boolean;
}

export type KeyRecordParse =
  | { readonly kind: 'key'; readonly key: DkimPublicKey }
  /** `p=` empty: the key was revoked (§3.6.1) — PERMFAIL. */
  | { readonly kind: 'revoked' }
  /** Not usable for email signatures: wrong v=, service type, syntax, undecodable key. */
  | { readonly kind: 'invalid'; readonly reason: string };

/**
 * Larger RSA moduli are refused: RFC 6376 §3.3.3 asks verifiers for 512–2048 bits and
 * OpenSSL stops at 16384; an 8192-bit key already costs 16× a 2048-bit verify, and a
 * domain owner publishing bigger ones would make every signature a CPU burden we carry.
 */
export const MAX_RSA_BITS = 8192;
/**
 * Public exponents beyond 64 bits are refused: a verify costs one modular exponentiation by
 * e, so an attacker-published key with a modulus-sized e turns every verify into the cost
 * of a private-key operation (OpenSSL applies the same 64-bit cap above 3072-bit moduli).
 */
const MAX_RSA_EXPONENT = 1n << 64n;
/** A DKIM key record longer than this is not parsed (an RSA-8192 record is about 1,450 octets). */
export const MAX_KEY_RECORD_LENGTH = 4096;

/** Parses one record (the TXT character-strings already joined, §3.6.2.2). */
export function parseKeyRecord(text: string): KeyRecordParse {
  if (text.length > MAX_KEY_RECORD_LENGTH) return { kind: 'invalid', reason: `key record of ${text.length} octets (at most ${MAX_KEY_RECORD_LENGTH})` };
  const parsed = parseTagList(text);
  if (!parsed.ok) return { kind: 'invalid', reason: `key record syntax: ${parsed.reason}` };
  const tags = parsed.tags;
  const v = tags.get('v');
  // "If specified, this tag MUST be set to "DKIM1" … and MUST be the first tag" (§3.6.1).
  if (v !== undefined && (v !== 'DKIM1' || [...tags.keys()][0] !== 'v')) return { kind: 'invalid', reason: v === 'DKIM1' ? 'v= is not the first tag' : `unknown version v=${v}` };
  const k = (tags.get('k') ?? 'rsa').toLowerCase();
  if (k !== 'rsa' && k !== 'ed25519') return { kind: 'invalid', reason: `unknown key type k=${k}` };
  const services = (tags.get('s') ?? '*').split(':').map((s) => s.trim().toLowerCase());
  if (!services.includes('*') && !services.includes('email')) return { kind: 'invalid', reason: `key not for email (s=${services.join(':')})` };
  const flags = (tags.get('t') ?? '').split(':').map((s) => s.trim().toLowerCase());
  const hashesTag = tags.get('h');
  const hashes = hashesTag === undefined ? undefined : hashesTag.split(':').map((s) => s.trim().toLowerCase()).filter(Boolean);
  const pRaw = tags.get('p');
  if (pRaw === undefined) return { kind: 'invalid', reason: 'no p= tag' };
  const p = compact(pRaw);
  if (p === '') return { kind: 'revoked' };
  if (!isBase64(p)) return { kind: 'invalid', reason: 'p= is not base64' };
  const der = Buffer.from(p, 'base64');
  let key: KeyObject;
  let bits: number;
  try {
    if (k === 'ed25519') {
      // RFC 8463 §4: the raw 32-octet public key, not a SubjectPublicKeyInfo.
      if (der.length !== 32) return { kind: 'invalid', reason: `Ed25519 key of ${der.length} octets (32 expected)` };
      key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: der.toString('base64url') }, format: 'jwk' });
      bits = 256;
    } else {
      key = rsaKey(der);
      if (key.asymmetricKeyType !== 'rsa') return { kind: 'invalid', reason: `k=rsa but p= holds a ${key.asymmetricKeyType ?? 'unknown'} key` };
      bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
      if (bits > MAX_RSA_BITS) return { kind: 'invalid', reason: `RSA key of ${bits} bits (at most ${MAX_RSA_BITS})` };
      const e = key.asymmetricKeyDetails?.publicExponent ?? 0n;
      if (e >= MAX_RSA_EXPONENT) return { kind: 'invalid', reason: 'RSA public exponent over 64 bits' };
    }
  } catch (err) {
    return { kind: 'invalid', reason: `undecodable public key (${(err as Error).message})` };
  }
  return { kind: 'key', key: { type: k, key, bits, ...(hashes ? { hashes } : {}), testing: flags.includes('y'), strict: flags.includes('s') } };
}

/**
 * RFC 6376 says SubjectPublicKeyInfo; some domains publish the bare PKCS#1 RSAPublicKey
 * (`openssl rsa -RSAPublicKey_out`), which every major verifier accepts: try both.
 */
function rsaKey(der: Buffer): KeyObject {
  try {
    return createPublicKey({ key: der, format: 'der', type: 'spki' });
  } catch (spkiError) {
    try {
      return createPublicKey({ key: der, format: 'der', type: 'pkcs1' });
    } catch {
      throw spkiError;
    }
  }
}
