/** The `nameserver` lines of resolv.conf(5): the default servers when the config names none. */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { DnsServer } from './types.ts';

/** Nameserver addresses in file order; IPv6 zone ids (`fe80::1%eth0`) are kept; invalid lines skipped. */
export function parseResolvConf(text: string): DnsServer[] {
  const out: DnsServer[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    const m = /^nameserver\s+(\S+)$/.exec(line);
    if (!m) continue;
    const host = m[1]!;
    if (isIP(host.replace(/%.*$/, '')) === 0) continue;
    out.push({ host, port: 53 });
  }
  return out;
}

/** Servers from `path` (default /etc/resolv.conf), or `[127.0.0.1:53]` when it is missing or lists none. */
export function systemDnsServers(path = '/etc/resolv.conf'): DnsServer[] {
  let text = '';
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    // No resolv.conf (containers, chroots): fall back to a local resolver, as libc does.
  }
  const servers = parseResolvConf(text);
  return servers.length > 0 ? servers : [{ host: '127.0.0.1', port: 53 }];
}
