/**
 * Does a presented chain match a TLSA RRset, as Postfix's DANE client (OpenSSL's DANE
 * support) decides? Pure: records, chain and clock in, a verdict per record out.
 *
 * - `3 x x` DANE-EE (RFC 7672 §3.1.1): the leaf alone; its names and dates are ignored.
 * - `2 x x` DANE-TA (RFC 7672 §3.1.2): some issuer certificate in the presented chain
 *   (depth ≥ 1) matches; then the chain from the leaf up to it must verify (each
 *   certificate issued and signed by the next; leaf and intermediates within their
 *   dates — the trust anchor's own dates are not checked, it stands for a key), and the
 *   leaf must carry one of the reference identifiers (RFC 7672 §3.2.3: the TLSA base
 *   domain / MX host name; wildcards in the leftmost label allowed, via `checkHost`).
 *   A TA that is not in the presented chain cannot match (RFC 7672 §3.1.2 requires the
 *   server to send it).
 * - `0 x x` / `1 x x` PKIX: "unusable" for SMTP (RFC 7672 §3.1.3); elsewhere matched on
 *   data only, and we say that no PKIX validation against a CA store was done.
 * - unknown usage, selector or matching type: unusable (RFC 6698 §4.1).
 *
 * DANE applies when at least one record is usable; the chain is authenticated when a
 * usable record matches.
 */
import type { X509Certificate } from 'node:crypto';
import { matchData, selectedBytes } from './tlsa-compute.ts';
import { isMatching, isSelector, tlsaText, type Tlsa } from './tlsa-params.ts';

export type RecordStatus = 'match' | 'no-match' | 'unusable';

export interface RecordVerdict {
  readonly record: Tlsa;
  readonly status: RecordStatus;
  readonly detail: string;
}

export interface ChainVerdict {
  readonly matched: boolean;
  /** At least one record was usable (otherwise DANE does not apply, RFC 7672 §2.2). */
  readonly usable: boolean;
  readonly records: readonly RecordVerdict[];
}

export interface MatchOptions {
  /** The name the client connects to (the MX host); names for the DANE-TA check. */
  readonly host?: string | undefined;
  readonly extraNames?: readonly string[];
  readonly now: number;
  /** SMTP rules (RFC 7672): PKIX usages unusable. */
  readonly smtp: boolean;
}

function dataMatches(r: Tlsa, cert: X509Certificate): boolean {
  return matchData(selectedBytes(cert, r.selector), r.matchingType).equals(r.data);
}

function verifyUpTo(chain: readonly X509Certificate[], taDepth: number, now: number): string | undefined {
  for (let i = 0; i < taDepth; i++) {
    const child = chain[i]!;
    const parent = chain[i + 1]!;
    if (!child.checkIssued(parent) || !child.verify(parent.publicKey)) return `certificate at depth ${i} is not signed by the one at depth ${i + 1}`;
    if (child.validToDate.getTime() < now) return `certificate at depth ${i} expired ${child.validToDate.toISOString()}`;
    if (child.validFromDate.getTime() > now) return `certificate at depth ${i} not valid before ${child.validFromDate.toISOString()}`;
  }
  return undefined;
}

export function matchRecord(r: Tlsa, chain: readonly X509Certificate[], options: MatchOptions): RecordVerdict {
  const rr = tlsaText(r).slice(0, 6);
  const v = (status: RecordStatus, detail: string): RecordVerdict => ({ record: r, status, detail });
  if (!isSelector(r.selector) || !isMatching(r.matchingType)) return v('unusable', `${rr}: unknown selector or matching type (RFC 6698 §4.1)`);
  const digestLen = r.matchingType === 1 ? 32 : r.matchingType === 2 ? 64 : -1;
  if (digestLen > 0 && r.data.length !== digestLen) return v('unusable', `${rr}: data is ${r.data.length} bytes, a digest of this type has ${digestLen} (RFC 7671 §5: malformed, ignored)`);
  const leaf = chain[0];
  if (!leaf) return v('no-match', 'no certificate presented');
  switch (r.usage) {
    case 3:
      return dataMatches(r, leaf) ? v('match', 'DANE-EE: the leaf matches (names and dates not checked, RFC 7672 §3.1.1)') : v('no-match', 'DANE-EE: the leaf does not match');
    case 2: {
      const depth = chain.findIndex((c, i) => i > 0 && dataMatches(r, c));
      if (depth < 0) return v('no-match', 'DANE-TA: no issuer certificate in the presented chain matches');
      const broken = verifyUpTo(chain, depth, options.now);
      if (broken) return v('no-match', `DANE-TA: matches the certificate at depth ${depth}, but ${broken}`);
      const names = [...(options.host ? [options.host] : []), ...(options.extraNames ?? [])].map((n) => n.replace(/\.$/, ''));
      if (names.length > 0 && !names.some((n) => leaf.checkHost(n) !== undefined)) {
        return v('no-match', `DANE-TA: chain verifies to depth ${depth}, but the leaf names none of ${names.join(', ')} (RFC 7672 §3.2.3)`);
      }
      return v('match', `DANE-TA: trust anchor at depth ${depth}, chain and name verified`);
    }
    case 0:
    case 1: {
      if (options.smtp) return v('unusable', `PKIX-${r.usage === 0 ? 'TA' : 'EE'}: not used by SMTP DANE clients (RFC 7672 §3.1.3)`);
      const hit = r.usage === 1 ? dataMatches(r, leaf) : chain.some((c, i) => i > 0 && dataMatches(r, c));
      return v(hit ? 'match' : 'no-match', `PKIX-${r.usage === 0 ? 'TA' : 'EE'}: data ${hit ? 'matches' : 'does not match'}; PKIX validation against a CA store is not done here`);
    }
    default:
      return v('unusable', `${rr}: unknown usage ${r.usage}`);
  }
}

export function matchChain(records: readonly Tlsa[], chain: readonly X509Certificate[], options: MatchOptions): ChainVerdict {
  const verdicts = records.map((r) => matchRecord(r, chain, options));
  const usable = verdicts.some((x) => x.status !== 'unusable');
  return { matched: verdicts.some((x) => x.status === 'match'), usable, records: verdicts };
}
