/**
 * iprev (RFC 8601 §3): forward-confirmed reverse DNS of the connecting client. The PTR
 * names of the address must resolve (A or AAAA, same family) back to it. An IPv6 sender
 * without a matching PTR fails — large receivers refuse such mail.
 */
import { isIP } from 'node:net';
import type { DnsLookup } from '../dns/types.ts';
import { DnsError } from '../dns/types.ts';

export type IprevResult = 'pass' | 'fail' | 'temperror' | 'permerror';

export interface Iprev {
  readonly result: IprevResult;
  readonly ip: string;
  /** The confirmed name on pass; the PTR names seen otherwise. */
  readonly names: readonly string[];
  readonly reason?: string;
}

/** Up to this many PTR names are checked (RFC 7208 §4.6.4 uses 10 for the same job). */
const MAX_NAMES = 10;

/** `192.0.2.1` → `1.2.0.192.in-addr.arpa`; IPv6 → 32 nibbles under ip6.arpa. */
export function reverseName(ip: string): string {
  if (isIP(ip) === 4) return `${ip.split('.').reverse().join('.')}.in-addr.arpa`;
  return `${expandIpv6(ip).split('').reverse().join('.')}.ip6.arpa`;
}

/** 32 lower-case hex digits. */
export function expandIpv6(ip: string): string {
  let addr = ip.toLowerCase();
  // IPv4-mapped tail: ::ffff:192.0.2.1
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(addr);
  if (v4) {
    const o = v4[1]!.split('.').map(Number);
    addr = addr.replace(v4[1]!, `${((o[0]! << 8) | o[1]!).toString(16)}:${((o[2]! << 8) | o[3]!).toString(16)}`);
  }
  const [head = '', tail] = addr.split('::');
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return groups.map((g) => g.padStart(4, '0')).join('');
}

function sameAddress(a: string, b: string): boolean {
  if (isIP(a) === 6 && isIP(b) === 6) return expandIpv6(a) === expandIpv6(b);
  return a === b;
}

export async function checkIprev(ip: string, dns: DnsLookup, signal?: AbortSignal): Promise<Iprev> {
  const family = isIP(ip);
  if (!family) return { result: 'permerror', ip, names: [], reason: 'not an IP address' };
  const opts = signal ? { signal } : {};
  let ptr;
  try {
    ptr = await dns.query(reverseName(ip), 'PTR', opts);
  } catch (err) {
    return { result: 'temperror', ip, names: [], reason: `PTR lookup failed: ${err instanceof DnsError ? err.code : (err as Error).message}` };
  }
  const names = ptr.records.slice(0, MAX_NAMES).map((n) => n.replace(/\.$/, '').toLowerCase());
  if (names.length === 0) return { result: 'fail', ip, names, reason: ptr.rcode === 'NXDOMAIN' ? 'no PTR record (NXDOMAIN)' : 'no PTR record' };
  let tempError: string | undefined;
  for (const name of names) {
    try {
      const fwd = await dns.query(name, family === 4 ? 'A' : 'AAAA', opts);
      if (fwd.records.some((a) => sameAddress(a, ip))) return { result: 'pass', ip, names: [name] };
    } catch (err) {
      tempError ??= `${name}: ${err instanceof DnsError ? err.code : (err as Error).message}`;
    }
  }
  if (tempError) return { result: 'temperror', ip, names, reason: `forward lookup failed (${tempError})` };
  return { result: 'fail', ip, names, reason: `no PTR name resolves back to ${ip}` };
}

/** The A-R resinfo: `iprev=pass policy.iprev=192.0.2.1 (mail.example.org)`. */
export function iprevInfo(r: Iprev): string {
  const comment = r.result === 'pass' ? r.names[0] : r.reason;
  return `iprev=${r.result} policy.iprev=${r.ip}${comment ? ` (${comment.replace(/[()\\]/g, '')})` : ''}`;
}
