/**
 * Does the TLSA RRset that senders see match the certificates the server presents now? The
 * question behind most DANE outages (a certificate renewed before its record was published):
 * asked of the recursive resolver — what a sending MTA's resolver answers — with DO set, for
 * each `dane.sites` entry, against its `cert_files` (what Postfix presents). Used for the
 * `mailanchor_dane_tlsa_*` metrics; `tlsa check` is the interactive, live-TLS version.
 *
 * States: `match` (every certificate chain in service is matched by a usable record, RFC 7672
 * rules on port 25), `mismatch` (some chain is matched by none: DANE senders will not deliver),
 * `missing` (no TLSA RRset), `error` (DNS failure, unreadable certificate files — we do not
 * know, and say so). Whether the answer was DNSSEC-validated (AD) is reported beside it:
 * senders ignore an RRset that does not validate (RFC 7672 §2.2).
 */
import type { DnsLookup } from '../dns/types.ts';
import { describeError } from '../errors.ts';
import { readTlsaSource, type CertChain } from './cert-input.ts';
import type { DaneSiteConfig } from './config.ts';
import { matchChain } from './match.ts';
import { tlsaOwner, type Tlsa } from './tlsa-params.ts';

export type TlsaMatchState = 'match' | 'mismatch' | 'missing' | 'error';
export const TLSA_MATCH_STATES: readonly TlsaMatchState[] = ['match', 'mismatch', 'missing', 'error'];

export interface TlsaSiteState {
  /** `_25._tcp.mx.example.org` (no trailing dot). */
  readonly site: string;
  readonly state: TlsaMatchState;
  /** The answer carried AD (a validating resolver vouched for it). */
  readonly authenticated: boolean;
  readonly detail: string;
}

/** Pure: the served records against the chains in service. */
export function judgeTlsa(site: Pick<DaneSiteConfig, 'host' | 'port'>, records: readonly Tlsa[], chains: readonly CertChain[], now: number): { state: TlsaMatchState; detail: string } {
  if (records.length === 0) return { state: 'missing', detail: 'no TLSA records' };
  const unmatched = chains.filter((c) => !matchChain(records, c.certs, { host: site.host, now, smtp: site.port === 25 }).matched);
  if (unmatched.length > 0) return { state: 'mismatch', detail: `no usable record matches ${unmatched.map((c) => c.file).join(', ')}` };
  return { state: 'match', detail: `every chain in service matches (${chains.length})` };
}

export async function checkSiteTlsa(site: DaneSiteConfig, dns: DnsLookup, now: number): Promise<TlsaSiteState> {
  const owner = tlsaOwner(site.host, site.port, site.proto).replace(/\.$/, '');
  const chains: CertChain[] = [];
  try {
    if (site.cert_files.length === 0) return { site: owner, state: 'error', authenticated: false, detail: 'no cert_files configured' };
    for (const file of site.cert_files) {
      const src = await readTlsaSource(file, { now });
      if (src.kind !== 'chain') return { site: owner, state: 'error', authenticated: false, detail: `${file}: a bare key, not a certificate chain the server can present` };
      chains.push(src);
    }
  } catch (err) {
    return { site: owner, state: 'error', authenticated: false, detail: describeError(err).message };
  }
  try {
    const answer = await dns.query(owner, 'TLSA', { dnssec: true });
    const records = answer.records.map((r) => ({ usage: r.usage, selector: r.selector, matchingType: r.matchingType, data: r.data }));
    return { site: owner, authenticated: answer.authenticated, ...judgeTlsa(site, records, chains, now) };
  } catch (err) {
    return { site: owner, state: 'error', authenticated: false, detail: `DNS: ${describeError(err).message}` };
  }
}
