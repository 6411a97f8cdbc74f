/** Observations for the mx check: the MX RRset and each host's A and AAAA, bounded in count. */
import type { DnsLookup } from '../../dns/types.ts';
import { canonicalIp } from '../addresses.ts';
import { isNullMx, type MxHostObservation, type MxObservation } from '../checks/mx.ts';
import { observe, type Observed } from '../types.ts';

/** Addresses kept per host: a host with hundreds is reported, not probed hundreds of times. */
const MAX_ADDRESSES = 16;

async function addresses(lookup: DnsLookup, name: string, type: 'A' | 'AAAA'): Promise<{ list: Observed<readonly string[]>; cname?: string }> {
  let cname: string | undefined;
  const list = await observe(async () => {
    const a = await lookup.query(name, type);
    if (a.cnameChain.length > 0) cname = a.canonicalName;
    return a.records.slice(0, MAX_ADDRESSES).map(canonicalIp);
  });
  return cname ? { list, cname } : { list };
}

export async function gatherMx(domain: string, lookup: DnsLookup, maxHosts: number): Promise<MxObservation> {
  const mx = await observe(async () => {
    const a = await lookup.query(domain, 'MX');
    return { rcode: a.rcode, records: a.records };
  });
  if (!mx.ok || mx.value.records.length === 0 || isNullMx(mx.value.records)) {
    if (mx.ok && mx.value.rcode === 'NOERROR' && mx.value.records.length === 0) {
      const [a, aaaa] = await Promise.all([addresses(lookup, domain, 'A'), addresses(lookup, domain, 'AAAA')]);
      return { domain, mx, hosts: [], omitted: 0, implicit: { a: a.list, aaaa: aaaa.list } };
    }
    return { domain, mx, hosts: [], omitted: 0 };
  }
  const sorted = [...mx.value.records].sort((x, y) => x.priority - y.priority || x.exchange.localeCompare(y.exchange));
  const unique = sorted.filter((m, i) => sorted.findIndex((n) => n.exchange === m.exchange) === i);
  const audited = unique.slice(0, maxHosts);
  const hosts = await Promise.all(
    audited.map(async (m): Promise<MxHostObservation> => {
      const [a, aaaa] = await Promise.all([addresses(lookup, m.exchange, 'A'), addresses(lookup, m.exchange, 'AAAA')]);
      const cname = a.cname ?? aaaa.cname;
      return { name: m.exchange, priority: m.priority, a: a.list, aaaa: aaaa.list, ...(cname ? { cname } : {}) };
    }),
  );
  return { domain, mx, hosts, omitted: unique.length - audited.length };
}

/** Every address of the audited MX hosts, with the host it belongs to. */
export function mxAddresses(o: MxObservation): { address: string; host: string }[] {
  const out: { address: string; host: string }[] = [];
  for (const h of o.hosts) for (const list of [h.a, h.aaaa]) if (list.ok) for (const address of list.value) out.push({ address, host: h.name });
  return out;
}
