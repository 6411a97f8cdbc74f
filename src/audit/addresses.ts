/** IP addresses as the audit compares and names them. Pure. */
import { isIP } from 'node:net';

/** One spelling per address: IPv6 compressed as RFC 5952 §4 (WHATWG URL serialises it so), IPv4 as is. */
export function canonicalIp(text: string): string {
  const t = text.trim();
  if (isIP(t) === 6) return new URL(`http://[${t}]/`).hostname.slice(1, -1);
  return t;
}

export const ipFamily = (text: string): 4 | 6 | 0 => isIP(text) as 4 | 6 | 0;

/** The reverse-DNS name of an address (RFC 1035 §3.5, RFC 3596 §2.5). */
export function reverseName(ip: string): string {
  if (isIP(ip) === 4) return `${ip.split('.').reverse().join('.')}.in-addr.arpa`;
  const groups = expandV6(ip);
  return `${groups.join('').split('').reverse().join('.')}.ip6.arpa`;
}

/** Eight groups of four hex digits. */
export function expandV6(ip: string): string[] {
  const c = canonicalIp(ip);
  // An embedded IPv4 tail (::ffff:192.0.2.1) becomes two groups.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(c);
  let text = c;
  if (v4) {
    const o = v4[1]!.split('.').map(Number);
    text = `${c.slice(0, -v4[1]!.length)}${((o[0]! << 8) | o[1]!).toString(16)}:${((o[2]! << 8) | o[3]!).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const h = head ? head.split(':') : [];
  const t = tail === undefined ? [] : tail ? tail.split(':') : [];
  const zeros = tail === undefined ? [] : Array.from({ length: 8 - h.length - t.length }, () => '0');
  return [...h, ...zeros, ...t].map((g) => g.padStart(4, '0'));
}

/** Is `ip` inside `network` (CIDR, or a single address)? False across families. */
export function inNetwork(ip: string, network: string): boolean {
  const [net, bitsText] = network.split('/');
  const fam = isIP(ip);
  if (!net || fam === 0 || fam !== isIP(net)) return false;
  const bits = bitsText === undefined ? (fam === 4 ? 32 : 128) : Number(bitsText);
  const a = toBits(ip);
  const b = toBits(net);
  return a.slice(0, bits) === b.slice(0, bits);
}

function toBits(ip: string): string {
  if (isIP(ip) === 4) return ip.split('.').map((o) => Number(o).toString(2).padStart(8, '0')).join('');
  return expandV6(ip).map((g) => parseInt(g, 16).toString(2).padStart(16, '0')).join('');
}
