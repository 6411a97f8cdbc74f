/**
 * IP addresses as SPF reads and compares them (RFC 7208 §5.6, §7.3): strict text forms, the
 * client's address with IPv4-mapped IPv6 treated as IPv4 (§5: "an IPv4-mapped IPv6 IP
 * address … MUST still be considered an IPv4 address"), CIDR prefix matching, and the
 * reverse-lookup names and macro forms of an address.
 *
 * Addresses are byte arrays (4 or 16 octets): one representation for both families, and a
 * prefix match is a few byte compares with no allocation.
 */

export interface IpAddress {
  readonly family: 4 | 6;
  /** 4 octets for IPv4, 16 for IPv6, network order. */
  readonly bytes: Uint8Array;
}

/**
 * ip4-network = qnum "." qnum "." qnum "." qnum (RFC 7208 §5.6): decimal 0-255 without
 * leading zeros, exactly four parts ("1.2.3" is not an abbreviation, §5.6).
 */
export function parseIp4(text: string): Uint8Array | undefined {
  const out = new Uint8Array(4);
  let part = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : 0x2e;
    if (c >= 0x30 && c <= 0x39) {
      if (digits > 0 && value === 0) return undefined; // leading zero
      value = value * 10 + (c - 0x30);
      if (++digits > 3 || value > 255) return undefined;
    } else if (c === 0x2e) {
      if (digits === 0 || part > 3) return undefined;
      out[part++] = value;
      value = 0;
      digits = 0;
    } else {
      return undefined;
    }
  }
  return part === 4 ? out : undefined;
}

const HEX = /^[0-9A-Fa-f]{1,4}$/;

/**
 * The IPv6 text forms of RFC 4291 §2.2: eight groups of 1-4 hex digits, one "::" for a run
 * of zero groups, and an optional trailing dotted quad in place of the last two groups.
 * No zone index (it names a local interface, not an address).
 */
export function parseIp6(text: string): Uint8Array | undefined {
  if (text.length < 2 || text.length > 45) return undefined;
  const gap = text.indexOf('::');
  if (gap !== -1 && text.indexOf('::', gap + 1) !== -1) return undefined;
  const head = gap === -1 ? text : text.slice(0, gap);
  const tail = gap === -1 ? '' : text.slice(gap + 2);
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === '' ? [] : tail.split(':');

  // An embedded IPv4 address may only be the very last part (so never before a "::").
  let v4: Uint8Array | undefined;
  const last = gap === -1 ? headGroups : tailGroups;
  const lastGroup = last[last.length - 1];
  if (lastGroup !== undefined && lastGroup.includes('.')) {
    v4 = parseIp4(lastGroup);
    if (!v4) return undefined;
    last.pop();
  }
  const groups = headGroups.length + tailGroups.length + (v4 ? 2 : 0);
  if (gap === -1 ? groups !== 8 : groups > 7) return undefined;

  const out = new Uint8Array(16);
  let at = 0;
  const put = (g: string): boolean => {
    if (!HEX.test(g)) return false;
    const n = Number.parseInt(g, 16);
    out[at++] = n >> 8;
    out[at++] = n & 0xff;
    return true;
  };
  for (const g of headGroups) if (!put(g)) return undefined;
  at = 16 - (tailGroups.length + (v4 ? 2 : 0)) * 2;
  for (const g of tailGroups) if (!put(g)) return undefined;
  if (v4) out.set(v4, 12);
  return out;
}

/**
 * The SMTP client's address: IPv4 dotted quad or IPv6. An IPv4-mapped IPv6 address
 * (::ffff:0:0/96, RFC 4291 §2.5.5.2) becomes the IPv4 address it carries (RFC 7208 §5),
 * so it matches `ip4` and `a`/`mx` A records, never `ip6`, and %{v} is "in-addr".
 */
export function parseClientIp(text: string): IpAddress | undefined {
  const t = text.trim();
  const v4 = parseIp4(t);
  if (v4) return { family: 4, bytes: v4 };
  const v6 = parseIp6(t);
  if (!v6) return undefined;
  if (isIp4Mapped(v6)) return { family: 4, bytes: v6.slice(12) };
  return { family: 6, bytes: v6 };
}

function isIp4Mapped(b: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
}

/** True when the first `prefix` bits of `addr` and `network` agree (same length arrays). */
export function inPrefix(addr: Uint8Array, network: Uint8Array, prefix: number): boolean {
  if (addr.length !== network.length) return false;
  const full = prefix >> 3;
  for (let i = 0; i < full; i++) if (addr[i] !== network[i]) return false;
  const rest = prefix & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return ((addr[full]! ^ network[full]!) & mask) === 0;
}

/**
 * An A or AAAA record's address as the resolver gives it (text), parsed for comparison;
 * undefined when it is not an address of that family.
 */
export function parseRecordAddress(text: string, family: 4 | 6): Uint8Array | undefined {
  return family === 4 ? parseIp4(text) : parseIp6(text);
}

const HEX_DIGITS = '0123456789abcdef';

/** %{i} (RFC 7208 §7.3): dotted quad for IPv4; for IPv6 the 32 nibbles, dot-separated. */
export function dotFormat(ip: IpAddress): string {
  if (ip.family === 4) return `${ip.bytes[0]}.${ip.bytes[1]}.${ip.bytes[2]}.${ip.bytes[3]}`;
  let s = '';
  for (const b of ip.bytes) s += `${s === '' ? '' : '.'}${HEX_DIGITS[b >> 4]}.${HEX_DIGITS[b & 15]}`;
  return s;
}

/** The PTR query name: d.c.b.a.in-addr.arpa or the reversed nibbles under ip6.arpa (RFC 7208 §5.5). */
export function reverseName(ip: IpAddress): string {
  if (ip.family === 4) return `${ip.bytes[3]}.${ip.bytes[2]}.${ip.bytes[1]}.${ip.bytes[0]}.in-addr.arpa`;
  let s = '';
  for (let i = 15; i >= 0; i--) {
    const b = ip.bytes[i]!;
    s += `${HEX_DIGITS[b & 15]}.${HEX_DIGITS[b >> 4]}.`;
  }
  return `${s}ip6.arpa`;
}

/**
 * %{c} (RFC 7208 §7.3) and log text: dotted quad, or IPv6 in the RFC 5952 form (lower case,
 * no leading zeros, the longest run of two or more zero groups as "::", the first on a tie).
 */
export function formatIp(ip: IpAddress): string {
  if (ip.family === 4) return dotFormat(ip);
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((ip.bytes[i]! << 8) | ip.bytes[i + 1]!);
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (from: number, to: number) => groups.slice(from, to).map((g) => g.toString(16)).join(':');
  if (bestStart === -1) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLen, 8)}`;
}
