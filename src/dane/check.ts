/**
 * `tlsa check`: what DNS publishes against what the server presents.
 *   1. TLSA RRset through a validating resolver with the DO bit; without the AD bit the
 *      records are not DNSSEC-validated and DANE does not apply (RFC 7672 §2.2) → exit 2.
 *   2. connect, STARTTLS or direct TLS, take the presented chain (`probe.ts`);
 *      unreachable → exit 2.
 *   3. match per record as Postfix's DANE client would (`match.ts`): some usable record
 *      matches → exit 0, otherwise → exit 1.
 */
import type { X509Certificate } from 'node:crypto';
import { DnsError, type DnsLookup } from '../dns/types.ts';
import { DaneError } from './errors.ts';
import { matchChain, type ChainVerdict } from './match.ts';
import { fetchPresentedChain, SIGALGS, type ProbeTarget } from './probe.ts';
import { tlsaOwner, type Tlsa, type TlsaProto } from './tlsa-params.ts';

export type CheckStatus = 'ok' | 'mismatch' | 'no-usable-records' | 'not-validated' | 'no-records' | 'dns-failure' | 'unreachable';

export const CHECK_EXIT: Record<CheckStatus, 0 | 1 | 2> = {
  ok: 0,
  mismatch: 1,
  'no-usable-records': 1,
  'not-validated': 2,
  'no-records': 2,
  'dns-failure': 2,
  unreachable: 2,
};

export interface CheckReport {
  readonly status: CheckStatus;
  readonly owner: string;
  readonly message: string;
  readonly authenticated?: boolean;
  readonly records?: readonly Tlsa[];
  readonly presented?: readonly X509Certificate[];
  /** Verdict for the first chain (`chains[0]`). */
  readonly verdict?: ChainVerdict;
  /** Every distinct chain the server presented (ECDSA and RSA offers), each judged. */
  readonly chains?: readonly PresentedChainReport[];
}

export interface PresentedChainReport {
  /** Which signature algorithms we offered to get it. */
  readonly offered: string;
  readonly certs: readonly X509Certificate[];
  readonly verdict: ChainVerdict;
}

export interface CheckOptions {
  readonly host: string;
  readonly port: number;
  readonly proto?: TlsaProto;
  /** Connect here instead of resolving `host` (tests, a specific MX address). */
  readonly address?: string;
  readonly starttls?: 'smtp' | 'none';
  readonly lookup: DnsLookup;
  readonly now: number;
  readonly timeoutMs?: number;
}

/** SMTP STARTTLS on 25 and 587; TLS straight away elsewhere (443, 465, …). */
export const defaultStartTls = (port: number): 'smtp' | 'none' => (port === 25 || port === 587 ? 'smtp' : 'none');

export async function checkDane(o: CheckOptions): Promise<CheckReport> {
  const owner = tlsaOwner(o.host, o.port, o.proto ?? 'tcp');
  let answer;
  try {
    answer = await o.lookup.query(owner, 'TLSA', { dnssec: true });
  } catch (err) {
    if (!(err instanceof DnsError)) throw err;
    // A validating resolver answers SERVFAIL for bogus data: DANE cannot be used, and a
    // Postfix client would defer mail to this host.
    return { status: 'dns-failure', owner, message: `TLSA lookup failed (${err.code}: ${err.message}); a bogus DNSSEC answer looks like this — DANE cannot be evaluated` };
  }
  if (answer.records.length === 0) {
    return { status: 'no-records', owner, authenticated: answer.authenticated, message: `no TLSA records at ${owner} (${answer.rcode === 'NXDOMAIN' ? 'NXDOMAIN' : 'NODATA'}): DANE does not apply` };
  }
  const records = answer.records.map((r) => ({ usage: r.usage, selector: r.selector, matchingType: r.matchingType, data: r.data }));
  if (!answer.authenticated) {
    return {
      status: 'not-validated',
      owner,
      authenticated: false,
      records,
      message: `the TLSA answer for ${owner} is not DNSSEC-validated (AD bit not set): DANE does not apply (RFC 7672 §2.2); sign the zone or use a validating resolver`,
    };
  }
  const starttls = o.starttls ?? defaultStartTls(o.port);
  // Fetch every chain the server can present: once offering only ECDSA signature
  // algorithms, once only RSA. A variant the server cannot serve fails its handshake and
  // is left out; when both fail, the server is unreachable.
  const chains: { offered: string; certs: readonly X509Certificate[] }[] = [];
  const failures: string[] = [];
  for (const [keyType, sigalgs] of Object.entries(SIGALGS)) {
    try {
      const got = await fetchPresentedChain({
        host: o.host,
        port: o.port,
        starttls,
        sigalgs,
        ...(o.address === undefined ? {} : { address: o.address }),
        ...(o.timeoutMs === undefined ? {} : { timeoutMs: o.timeoutMs }),
      } satisfies ProbeTarget);
      const leaf = got.certs[0];
      if (leaf && !chains.some((c) => c.certs[0]?.fingerprint256 === leaf.fingerprint256)) chains.push({ offered: keyType, certs: got.certs });
    } catch (err) {
      if (!(err instanceof DaneError)) throw err;
      failures.push(`${keyType}: ${err.message}`);
    }
  }
  if (chains.length === 0) return { status: 'unreachable', owner, authenticated: true, records, message: failures.join('; ') };
  // SMTP rules (RFC 7672) for the mail ports and for any STARTTLS-SMTP service.
  const smtp = starttls === 'smtp' || o.port === 25 || o.port === 587 || o.port === 465;
  const judged: PresentedChainReport[] = chains.map((c) => ({ ...c, verdict: matchChain(records, c.certs, { host: o.host, now: o.now, smtp }) }));
  const allMatch = judged.every((c) => c.verdict.matched);
  const anyUsable = judged.some((c) => c.verdict.usable);
  const status: CheckStatus = allMatch ? 'ok' : anyUsable ? 'mismatch' : 'no-usable-records';
  const unmatched = judged.filter((c) => !c.verdict.matched).map((c) => c.certs[0]!.publicKey.asymmetricKeyType ?? '?');
  const message =
    status === 'ok'
      ? `every presented chain (${judged.length}) matches a TLSA record`
      : status === 'mismatch'
        ? `no TLSA record matches the presented ${unmatched.join(' and ')} chain: DANE clients that get it will not deliver`
        : 'no usable TLSA record (only PKIX usages or unknown parameters): SMTP DANE clients treat the server as having none';
  const first = judged[0]!;
  return { status, owner, authenticated: true, records, presented: first.certs, verdict: first.verdict, chains: judged, message };
}
