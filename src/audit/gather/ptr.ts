/** Observations for the ptr check: PTR of each address, then the addresses of each PTR name. */
import { isIP } from 'node:net';
import type { DnsLookup } from '../../dns/types.ts';
import { canonicalIp, reverseName } from '../addresses.ts';
import type { PtrObservation } from '../checks/ptr.ts';
import { observe } from '../types.ts';

/** PTR names followed per address: more is a misconfiguration, reported, not chased. */
const MAX_PTR_NAMES = 4;

export async function gatherPtr(lookup: DnsLookup, addresses: readonly { address: string; source: 'mx' | 'sending'; host?: string }[]): Promise<PtrObservation[]> {
  return Promise.all(
    addresses.map(async (a): Promise<PtrObservation> => {
      const address = canonicalIp(a.address);
      const rev = reverseName(address);
      const ptr = await observe(async () => {
        const ans = await lookup.query(rev, 'PTR');
        return { rcode: ans.rcode, names: [...new Set(ans.records)] };
      });
      const names = ptr.ok ? ptr.value.names.slice(0, MAX_PTR_NAMES) : [];
      const type = isIP(address) === 6 ? 'AAAA' : 'A';
      const forward = await Promise.all(names.map(async (name) => ({ name, addresses: await observe(async () => (await lookup.query(name, type)).records.map(canonicalIp)) })));
      return { address, source: a.source, ...(a.host ? { host: a.host } : {}), reverseName: rev, ptr, forward };
    }),
  );
}
