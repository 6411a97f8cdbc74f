/**
 * Certificate association data (RFC 6698 §2.1.2–2.1.3): selector 0 = the certificate's
 * DER, selector 1 = its SubjectPublicKeyInfo DER; matching 0 = those bytes, 1 = SHA-256,
 * 2 = SHA-512. Which certificate: usages 1/3 (end entity) take the leaf, usages 0/2
 * (trust anchor) an issuer. Defaults follow RFC 7671 §5 / RFC 7672 §3.1: `3 1 1` on the
 * leaf key plus `2 1 1` on the issuing CA's key when the chain holds it.
 */
import { createHash, type X509Certificate } from 'node:crypto';
import type { TlsaSource } from './cert-input.ts';
import { DaneError } from './errors.ts';
import { isMatching, isSelector, isUsage, type Tlsa } from './tlsa-params.ts';

export function selectedBytes(cert: X509Certificate, selector: number): Buffer {
  return selector === 0 ? cert.raw : cert.publicKey.export({ type: 'spki', format: 'der' });
}

export function matchData(bytes: Buffer, matchingType: number): Buffer {
  if (matchingType === 0) return Buffer.from(bytes);
  if (matchingType === 1) return createHash('sha256').update(bytes).digest();
  if (matchingType === 2) return createHash('sha512').update(bytes).digest();
  throw new DaneError('BAD_PARAMETER', `matching type ${matchingType} is not 0, 1 or 2`, { matchingType });
}

export function tlsaFor(cert: X509Certificate, usage: number, selector: number, matchingType: number): Tlsa {
  return { usage, selector, matchingType, data: matchData(selectedBytes(cert, selector), matchingType) };
}

export interface RecordRequest {
  /** Unset: the SMTP defaults (`3 1 1` leaf, `2 1 1` issuer when present). */
  readonly usage?: number;
  readonly selector?: number;
  readonly matchingType?: number;
}

/** A computed record with where it came from (for output and lint). */
export interface ComputedTlsa extends Tlsa {
  readonly file: string;
  /** Subject of the certificate it pins, or `(public key)` for a bare key. */
  readonly subject: string;
  /** Index in the chain (0 = leaf). */
  readonly depth: number;
}

export function recordsFor(source: TlsaSource, req: RecordRequest = {}): ComputedTlsa[] {
  const selector = req.selector ?? 1;
  const matchingType = req.matchingType ?? 1;
  if (!isSelector(selector)) throw new DaneError('BAD_PARAMETER', `selector ${selector} is not 0 or 1`, { selector });
  if (!isMatching(matchingType)) throw new DaneError('BAD_PARAMETER', `matching type ${matchingType} is not 0, 1 or 2`, { matchingType });
  if (req.usage !== undefined && !isUsage(req.usage)) throw new DaneError('BAD_PARAMETER', `usage ${req.usage} is not 0, 1, 2 or 3`, { usage: req.usage });

  if (source.kind === 'key') {
    const usage = req.usage ?? 3;
    // A bare key has no certificate: only selector 1 can be computed, and only for the
    // end entity or a trust anchor given as a key (RFC 7671 §5.2.3).
    if (selector !== 1) throw new DaneError('BAD_PARAMETER', `${source.file}: a bare key can only give selector 1 (SPKI); selector 0 needs the certificate`, { file: source.file });
    return [{ usage, selector, matchingType, data: matchData(source.spki, matchingType), file: source.file, subject: '(public key)', depth: 0 }];
  }

  const make = (cert: X509Certificate, depth: number, usage: number): ComputedTlsa => ({
    ...tlsaFor(cert, usage, selector, matchingType),
    file: source.file,
    subject: cert.subject.split('\n').join(', '),
    depth,
  });
  const leaf = source.certs[0]!;
  const issuer = source.certs[1];
  if (req.usage === undefined) {
    return issuer ? [make(leaf, 0, 3), make(issuer, 1, 2)] : [make(leaf, 0, 3)];
  }
  if (req.usage === 1 || req.usage === 3) return [make(leaf, 0, req.usage)];
  if (!issuer) {
    throw new DaneError('BAD_PARAMETER', `${source.file}: usage ${req.usage} pins an issuer certificate, but the file holds only the leaf; give the chain (leaf then issuers)`, { file: source.file });
  }
  return [make(issuer, 1, req.usage)];
}
