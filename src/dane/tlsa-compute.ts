/**
 * Certificate association data (RFC 6698 §2.1.2–2.1.3): selector 0 = the certificate's
 * DER, selector 1 = its SubjectPublicKeyInfo DER; matching 0 = those bytes, 1 = SHA-256,
 * 2 = SHA-512. Which certificate: usages 1/3 (end entity) take the leaf, usages 0/2
 * (trust anchor) an issuer. Defaults follow RFC 7671 §5 / RFC 7672 §3.1: `3 1 1` on the
 * leaf key plus `2 1 1` on the issuing CA's key when the chain holds it.
 *
 * Dates (RFC 7672 §3.1.1): a DANE-EE client ignores the leaf's names and validity period
 * (the TLSA record's DNSSEC signatures bound its life), so `3 x x` is computed from an
 * expired or not yet valid leaf, with a warning. DANE-TA (usage 2) validates the chain
 * below the trust anchor, leaf dates included (RFC 7672 §3.1.2), and the PKIX usages 0/1
 * validate everything: those are refused when explicitly asked for, and the default
 * `2 1 1` is left out (with a warning) rather than published to fail.
 */
import { createHash, type X509Certificate } from 'node:crypto';
import { certName, type CertChain, type TlsaSource, type ValidityProblem } from './cert-input.ts';
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

export type TlsaWarningCode =
  /** A `3 x x` computed from a leaf outside its dates: works for DANE-EE, not for PKIX clients. */
  | 'LEAF_DATES_IGNORED'
  /** The default `2 1 1` was not computed: DANE-TA checks the leaf's dates. */
  | 'TA_RECORD_OMITTED';

export interface TlsaWarning {
  readonly code: TlsaWarningCode;
  readonly file: string;
  readonly message: string;
}

export interface ComputedRecords {
  readonly records: ComputedTlsa[];
  readonly warnings: TlsaWarning[];
}

/** The records only, for callers that report no warnings (they are in `computeRecords`). */
export function recordsFor(source: TlsaSource, req: RecordRequest = {}): ComputedTlsa[] {
  return computeRecords(source, req).records;
}

function datesText(p: ValidityProblem): string {
  const what = p.index === 0 ? 'the certificate' : `issuer certificate #${p.index + 1}`;
  return p.kind === 'expired' ? `${what} (${p.subject}) expired on ${p.at.toISOString()}` : `${what} (${p.subject}) is not valid before ${p.at.toISOString()}`;
}

/** Refuses a usage whose clients check dates, naming the first certificate out of them. */
function refuseDates(source: CertChain, usage: number, problem: ValidityProblem): never {
  const why = usage === 2 ? 'DANE-TA (usage 2) checks the dates of the certificates below the trust anchor (RFC 7672 §3.1.2)' : `PKIX usage ${usage} checks the dates of every certificate`;
  throw new DaneError(problem.kind === 'expired' ? 'EXPIRED' : 'NOT_YET_VALID', `${source.file}: ${datesText(problem)}; ${why}; DANE-EE (--usage 3) ignores dates (RFC 7672 §3.1.1)`, {
    file: source.file,
    index: problem.index,
    ...(problem.kind === 'expired' ? { notAfter: problem.at.toISOString() } : { notBefore: problem.at.toISOString() }),
  });
}

export function computeRecords(source: TlsaSource, req: RecordRequest = {}): ComputedRecords {
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
    return { records: [{ usage, selector, matchingType, data: matchData(source.spki, matchingType), file: source.file, subject: '(public key)', depth: 0 }], warnings: [] };
  }

  const make = (cert: X509Certificate, depth: number, usage: number): ComputedTlsa => ({
    ...tlsaFor(cert, usage, selector, matchingType),
    file: source.file,
    subject: certName(cert),
    depth,
  });
  const leaf = source.certs[0]!;
  const issuer = source.certs[1];
  const leafDates = source.validity.find((p) => p.index === 0);
  const warnings: TlsaWarning[] = [];
  const eeRecord = (usage: 1 | 3): ComputedTlsa => {
    if (usage === 1) {
      const bad = source.validity[0];
      if (bad) refuseDates(source, 1, bad);
    } else if (leafDates) {
      warnings.push({
        code: 'LEAF_DATES_IGNORED',
        file: source.file,
        message: `${source.file}: ${datesText(leafDates)}; the 3 x x record is computed anyway: DANE-EE clients ignore the certificate's dates and names (RFC 7672 §3.1.1), but clients that validate it as PKIX (MTA-STS, opportunistic senders that verify) reject it — renew it`,
      });
    }
    return make(leaf, 0, usage);
  };
  if (req.usage === undefined) {
    const records = [eeRecord(3)];
    if (issuer && leafDates) {
      warnings.push({ code: 'TA_RECORD_OMITTED', file: source.file, message: `${source.file}: no 2 x x record: DANE-TA checks the leaf's dates (RFC 7672 §3.1.2) and ${datesText(leafDates)}` });
    } else if (issuer) {
      records.push(make(issuer, 1, 2));
    }
    return { records, warnings };
  }
  if (req.usage === 1 || req.usage === 3) return { records: [eeRecord(req.usage)], warnings };
  if (!issuer) {
    throw new DaneError('BAD_PARAMETER', `${source.file}: usage ${req.usage} pins an issuer certificate, but the file holds only the leaf; give the chain (leaf then issuers)`, { file: source.file });
  }
  // Usage 2: the chain below the anchor (the leaf) must be within its dates; the anchor's
  // own dates are not checked (match.ts). Usage 0: PKIX, every certificate.
  const bad = req.usage === 2 ? leafDates : source.validity[0];
  if (bad) refuseDates(source, req.usage, bad);
  return { records: [make(issuer, 1, req.usage)], warnings };
}
