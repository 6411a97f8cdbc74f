/** Observations for the mta-sts and tls-rpt checks. */
import { createHash } from 'node:crypto';
import type { DnsLookup } from '../../dns/types.ts';
import type { MtaStsObservation } from '../checks/mta-sts.ts';
import type { TlsRptObservation } from '../checks/tls-rpt.ts';
import { fetchPolicy, type PolicyFetch } from '../https-policy.ts';
import { parseStsRecord } from '../mta-sts-policy.ts';
import type { PolicyHistory } from '../policy-history.ts';
import { observe } from '../types.ts';

export interface MtaStsGatherOptions {
  readonly connect: boolean;
  readonly extraCa: readonly string[];
  readonly timeoutMs: number;
  readonly history: PolicyHistory;
  readonly now: () => number;
  /** 443; a test lab may serve elsewhere. */
  readonly httpsPort?: number;
}

const txt = (lookup: DnsLookup, name: string) => observe(async () => (await lookup.query(name, 'TXT')).records.map((parts) => parts.join('')));

export async function gatherMtaSts(domain: string, lookup: DnsLookup, mxHosts: readonly string[], o: MtaStsGatherOptions): Promise<MtaStsObservation> {
  const record = await txt(lookup, `_mta-sts.${domain}`);
  const previous = o.history.get(domain);
  const base = { domain, txt: record, mxHosts, ...(previous ? { previous } : {}) };
  if (!o.connect) return base;
  const host = `mta-sts.${domain}`;
  const policy = await observe(async (): Promise<{ address: string; fetch: PolicyFetch; sha256?: string }> => {
    const [a, aaaa] = await Promise.all([lookup.query(host, 'A').catch(() => undefined), lookup.query(host, 'AAAA').catch(() => undefined)]);
    const addresses = [...(a?.records ?? []), ...(aaaa?.records ?? [])];
    if (addresses.length === 0) throw new Error(a?.rcode === 'NXDOMAIN' ? `${host} does not exist (NXDOMAIN)` : `${host} has no A or AAAA record`);
    let last: { address: string; fetch: PolicyFetch } | undefined;
    for (const address of addresses.slice(0, 4)) {
      const fetch = await fetchPolicy({ host, address, timeoutMs: o.timeoutMs, extraCa: o.extraCa, ...(o.httpsPort ? { port: o.httpsPort } : {}) });
      if (fetch.kind === 'response') {
        const sha256 = fetch.body === undefined ? undefined : createHash('sha256').update(fetch.body).digest('hex');
        return { address, fetch, ...(sha256 ? { sha256 } : {}) };
      }
      last = { address, fetch };
    }
    return last!;
  });
  // Remember what was served under which id, for the next run's comparison.
  const sha = policy.ok ? policy.value.sha256 : undefined;
  if (sha && record.ok) {
    const recs = record.value.filter((t) => /^v=STSv1(;|$)/.test(t));
    const parsed = recs.length === 1 ? parseStsRecord(recs[0]!) : undefined;
    // A changed policy under the same id is not recorded: the next run flags it again.
    if (parsed?.ok && (!previous || previous.id !== parsed.id || previous.sha256 === sha)) {
      o.history.set(domain, { id: parsed.id, sha256: sha, seenAt: new Date(o.now()).toISOString() });
    }
  }
  return { ...base, policy };
}

export async function gatherTlsRpt(domain: string, lookup: DnsLookup): Promise<TlsRptObservation> {
  return { domain, txt: await txt(lookup, `_smtp._tls.${domain}`) };
}
