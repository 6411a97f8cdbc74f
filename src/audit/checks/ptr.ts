/**
 * `ptr`: forward-confirmed reverse DNS (RFC 8601 §3 "iprev"; M3AAWG) for every MX address
 * and every configured sending address, IPv6 included: Gmail rejects mail from an IPv6
 * address without a PTR (550-5.7.1 "…does not have a PTR record"), the seeds' lesson.
 * A PTR counts when one of its names resolves back to the same address. Pure.
 */
import { result, type CheckResult, type Observed } from '../types.ts';

export interface PtrObservation {
  readonly address: string;
  /** `mx`: an address of an MX host; `sending`: a configured outbound address. */
  readonly source: 'mx' | 'sending';
  /** The MX host the address belongs to. */
  readonly host?: string;
  readonly reverseName: string;
  readonly ptr: Observed<{ readonly rcode: 'NOERROR' | 'NXDOMAIN'; readonly names: readonly string[] }>;
  /** For each PTR name (at most a few): its addresses of the same family. */
  readonly forward: readonly { readonly name: string; readonly addresses: Observed<readonly string[]> }[];
}

const r = result('ptr');

export function judgePtr(list: readonly PtrObservation[]): CheckResult[] {
  const out: CheckResult[] = [];
  for (const o of list) {
    const what = o.source === 'mx' ? `${o.address} (${o.host ?? 'MX'})` : `${o.address} (sending address)`;
    const wanted = o.host ?? '<host name whose A/AAAA is this address>';
    const fix = `${o.reverseName}. IN PTR ${wanted}.  (set by whoever holds the address block: your hoster or ISP)`;
    if (!o.ptr.ok) {
      out.push(r.error(what, `PTR lookup for ${o.reverseName} failed: ${o.ptr.error}`));
      continue;
    }
    const names = o.ptr.value.names;
    if (names.length === 0) {
      const v6 = o.address.includes(':') ? ' — Gmail rejects mail from IPv6 addresses without one' : '';
      out.push(r.fail(what, `no PTR record for ${o.address}${v6}`, fix));
      continue;
    }
    const confirmed = o.forward.filter((f) => f.addresses.ok && f.addresses.value.includes(o.address)).map((f) => f.name);
    const errors = o.forward.filter((f) => !f.addresses.ok);
    if (confirmed.length > 0) {
      if (names.length > 1) out.push(r.warn(what, `${names.length} PTR records (${names.join(', ')}); ${confirmed.join(', ')} resolves back. Receivers may use any one of them`, `keep one PTR: ${o.reverseName}. IN PTR ${confirmed[0]}.`));
      else out.push(r.ok(what, `PTR ${names[0]}, which resolves back to ${o.address}`));
      continue;
    }
    if (errors.length > 0) {
      out.push(r.error(what, `PTR ${names.join(', ')}; the forward lookup failed: ${errors.map((e) => (e.addresses.ok ? '' : `${e.name}: ${e.addresses.error}`)).join('; ')}`));
      continue;
    }
    const back = o.forward.map((f) => `${f.name} → ${f.addresses.ok && f.addresses.value.length ? f.addresses.value.join(', ') : 'no address'}`).join('; ');
    out.push(r.fail(what, `PTR ${names.join(', ')} does not resolve back to ${o.address} (${back}): not forward-confirmed`, `${names[0]}. IN ${o.address.includes(':') ? 'AAAA' : 'A'} ${o.address}  (or point the PTR at a name that has it)`));
  }
  return out;
}
