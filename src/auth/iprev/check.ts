/**
 * iprev (RFC 8601 §3, results §2.7.3): forward-confirmed reverse DNS of the SMTP client. The
 * client's PTR names must resolve — A for IPv4, AAAA for IPv6, the same family — back to
 * the client's address. IPv6 is checked exactly like IPv4: large receivers (Gmail among
 * them) refuse IPv6 mail whose address has no matching PTR, so a hoster needs to see it.
 *
 * Results (§2.7.3):
 * - pass: a PTR name resolves back to the address.
 * - fail: PTR names exist, but none resolves back (forward NXDOMAIN/NODATA or other addresses).
 * - permerror: no PTR data at all (NXDOMAIN, or NOERROR without PTR records).
 * - temperror: the PTR lookup failed, or no name matched and a forward lookup failed (a
 *   later attempt may pass).
 *
 * At most `MAX_NAMES` PTR names are checked (RFC 7208 §4.6.4 allows 10 for the same job; a
 * reverse zone listing hundreds would otherwise make us look up hundreds of names). Their
 * forward lookups run in parallel.
 */
import { DnsError, type DnsLookup } from '../../dns/types.ts';
import { normalizeDomain } from '../../mail/domain.ts';
import type { IprevCheck } from '../results.ts';
import { clientAddress, reverseName, sameAddress } from './address.ts';

export const MAX_NAMES = 10;

const why = (err: unknown) => (err instanceof DnsError ? err.code : err instanceof Error ? err.message : String(err));

export async function checkIprev(ip: string, dns: DnsLookup, options: { readonly signal?: AbortSignal } = {}): Promise<IprevCheck> {
  const addr = clientAddress(ip);
  if (!addr) return { result: 'permerror', ip, names: [], reason: `${ip} is not an IP address` };
  const qo = options.signal ? { signal: options.signal } : {};
  let ptr;
  try {
    ptr = await dns.query(reverseName(addr), 'PTR', qo);
  } catch (err) {
    return { result: 'temperror', ip, names: [], reason: `PTR lookup failed: ${why(err)}` };
  }
  if (ptr.records.length === 0) {
    return { result: 'permerror', ip, names: [], reason: ptr.rcode === 'NXDOMAIN' ? 'no PTR record (NXDOMAIN)' : 'no PTR record (NODATA)' };
  }
  const names = [...new Set(ptr.records.map((n) => normalizeDomain(n)).filter((n): n is string => n !== undefined))].slice(0, MAX_NAMES);
  if (names.length === 0) return { result: 'fail', ip, names: [], reason: 'no PTR record holds a valid host name' };
  const type = addr.family === 4 ? 'A' : 'AAAA';
  const forward = await Promise.all(
    names.map(async (name) => {
      try {
        const a = await dns.query(name, type, qo);
        return { name, match: a.records.some((r) => sameAddress(addr, r)) };
      } catch (err) {
        return { name, match: false, error: why(err) };
      }
    }),
  );
  const confirmed = forward.find((f) => f.match);
  if (confirmed) return { result: 'pass', ip, names: [confirmed.name], reason: `${confirmed.name} resolves back to ${ip}` };
  const failedLookup = forward.find((f) => f.error !== undefined);
  if (failedLookup) return { result: 'temperror', ip, names, reason: `${type} lookup of ${failedLookup.name} failed: ${failedLookup.error}` };
  return { result: 'fail', ip, names, reason: `no PTR name resolves back to ${ip} (${type})` };
}
