/**
 * IP address forms for iprev: the reverse-lookup name (RFC 1035 §3.5 in-addr.arpa, RFC 3596
 * §2.5 ip6.arpa nibbles) and address equality across the ways AAAA data can be written.
 * IPv4-mapped IPv6 addresses (`::ffff:192.0.2.1`, what a dual-stack socket reports for an
 * IPv4 client) are IPv4 clients: their PTR lives under in-addr.arpa and their forward
 * records are A records.
 */
import { isIP } from 'node:net';

export interface ClientAddress {
  /** 4 or 6, after unmapping IPv4-mapped IPv6. */
  readonly family: 4 | 6;
  /** Dotted quad, or 32 lower-case hex digits. */
  readonly canonical: string;
}

/** The address in comparable form, or undefined when `ip` is not an IP address. */
export function clientAddress(ip: string): ClientAddress | undefined {
  const bare = ip.replace(/%.*$/, ''); // a zone id (fe80::1%eth0) is local, not part of the address
  const family = isIP(bare);
  if (family === 4) return { family: 4, canonical: bare.split('.').map(Number).join('.') };
  if (family !== 6) return undefined;
  const hex = expandIpv6(bare);
  if (hex.startsWith('00000000000000000000ffff')) {
    const v4 = hex.slice(24);
    return { family: 4, canonical: [0, 2, 4, 6].map((i) => parseInt(v4.slice(i, i + 2), 16)).join('.') };
  }
  return { family: 6, canonical: hex };
}

/** 32 lower-case hex digits of a valid IPv6 address (embedded IPv4 tail allowed). */
export function expandIpv6(ip: string): string {
  let addr = ip.toLowerCase();
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(addr);
  if (v4) {
    const o = v4.slice(1).map(Number) as [number, number, number, number];
    addr = addr.slice(0, v4.index) + `${((o[0] << 8) | o[1]).toString(16)}:${((o[2] << 8) | o[3]).toString(16)}`;
  }
  const [head = '', tail] = addr.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return groups.map((g) => g.padStart(4, '0')).join('');
}

/** `1.2.0.192.in-addr.arpa`, or 32 nibbles under `ip6.arpa`. */
export function reverseName(a: ClientAddress): string {
  if (a.family === 4) return `${a.canonical.split('.').reverse().join('.')}.in-addr.arpa`;
  return `${a.canonical.split('').reverse().join('.')}.ip6.arpa`;
}

/** True when the A/AAAA record data `record` is the address `a`. */
export function sameAddress(a: ClientAddress, record: string): boolean {
  const b = clientAddress(record);
  return b !== undefined && b.family === a.family && b.canonical === a.canonical;
}
