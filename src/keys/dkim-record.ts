/**
 * The DKIM key record (RFC 6376 §3.6.1) for a public key, as the TXT value every
 * authoritative server must serve before a key may become active. Pure: no I/O.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { parseKeyRecord } from '../auth/dkim/key-record.ts';
import type { DkimAlgorithm } from './signing-keys.ts';

/** A TXT character-string holds at most 255 octets (RFC 1035 §3.3.14). */
export const TXT_STRING_MAX = 255 as const;

/**
 * `p=` for a public key: RSA is the base64 DER SubjectPublicKeyInfo (RFC 6376 §3.6.1);
 * Ed25519 is the raw 32-byte key, base64 (RFC 8463 §4), not the SPKI wrapper.
 */
export function publicKeyData(publicKey: KeyObject): string {
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  if (publicKey.asymmetricKeyType === 'ed25519') return spki.subarray(spki.length - 32).toString('base64');
  return spki.toString('base64');
}

/** The full record value; `revoked` publishes an empty `p=` (RFC 6376 §3.6.1: key revoked). */
export function dkimRecordValue(algorithm: DkimAlgorithm, p: string): string {
  const k = algorithm === 'ed25519-sha256' ? 'ed25519' : 'rsa';
  return `v=DKIM1; k=${k}; p=${p}`;
}

export function dkimRecordForKey(algorithm: DkimAlgorithm, publicKeyPem: string): string {
  return dkimRecordValue(algorithm, publicKeyData(createPublicKey(publicKeyPem)));
}

/** Splits a record value into TXT strings of at most 255 octets (the value is ASCII). */
export function splitTxt(value: string): string[] {
  const parts: string[] = [];
  for (let i = 0; i < value.length; i += TXT_STRING_MAX) parts.push(value.slice(i, i + TXT_STRING_MAX));
  return parts.length === 0 ? [''] : parts;
}

/**
 * Does this served record let verifiers check our signatures with this key? The same public
 * key, of the algorithm's type, for email, and not restricted to other hashes (h=). A record
 * written by someone else (OpenDKIM's `opendkim-genkey` adds `h=sha256`, tags in another
 * order, strings split elsewhere) serves the key as well as our own text does.
 */
export function recordServesKey(text: string, algorithm: DkimAlgorithm, publicKeyPem: string): boolean {
  const parsed = parseKeyRecord(text);
  if (parsed.kind !== 'key') return false;
  const k = parsed.key;
  if (k.type !== (algorithm === 'ed25519-sha256' ? 'ed25519' : 'rsa')) return false;
  if (k.hashes !== undefined && !k.hashes.includes('sha256')) return false;
  const der = (key: KeyObject) => key.export({ type: 'spki', format: 'der' });
  return der(k.key).equals(der(createPublicKey(publicKeyPem)));
}
