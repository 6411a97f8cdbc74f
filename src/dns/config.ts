/** The `dns:` section of the config file. Owner: the dns feature; every key documented in mailanchor.example.yml. */
import { isIP } from 'node:net';
import { duration, formatHostPort, int, list, object, parseHostPort, withDefault, type ConfigIssue, type Decoder, type Infer } from '../config/schema.ts';
import { systemDnsServers } from './resolv-conf.ts';
import type { ResolverOptions } from './resolver.ts';
import { DnsError, type DnsServer } from './types.ts';

/** `IP[:PORT]`: a resolver given by name would need DNS to be found, so only addresses. */
const serverAddress = (): Decoder<DnsServer> =>
  Object.assign(
    (v: unknown, path: string, issues: ConfigIssue[]): DnsServer => {
      const hp = typeof v === 'string' ? parseHostPort(v.trim(), 53) : undefined;
      if (hp && isIP(hp.host) !== 0) return hp;
      issues.push({ path, message: `expected IP[:PORT] or [IPv6]:PORT, got ${JSON.stringify(v)}` });
      return undefined as unknown as DnsServer;
    },
    { encode: formatHostPort },
  );

export const dnsSection = object({
  /** Recursive resolvers, `HOST[:PORT]` (IPv6 as `[::1]:53`); default: resolv.conf nameservers, else 127.0.0.1. */
  servers: withDefault(list(serverAddress(), { minLength: 1 }), () => systemDnsServers()),
  /** Per-attempt timeout. */
  timeout: withDefault(duration({ min: 1, max: 60_000 }), 2000),
  /** Attempts per lookup, each on the next server. */
  attempts: withDefault(int({ min: 1, max: 10 }), 2),
  /** TTL ceiling for cached answers. */
  cache_max_ttl: withDefault(duration({ max: 7 * 86_400_000 }), 3_600_000),
  /** TTL floor for cached answers. */
  cache_min_ttl: withDefault(duration({ max: 86_400_000 }), 0),
  /** TTL ceiling for cached NXDOMAIN/NODATA (RFC 2308). */
  negative_cache_max_ttl: withDefault(duration({ max: 86_400_000 }), 300_000),
  /** Remember a failed lookup this long (RFC 9520); 0 = ask again at once. */
  failure_cache_ttl: withDefault(duration({ max: 300_000 }), 0),
  /** Cached answers kept (least recently used evicted); 0 disables the cache. */
  cache_size: withDefault(int({ min: 0, max: 10_000_000 }), 10_000),
});

export type DnsConfig = Infer<typeof dnsSection>;

/**
 * `HOST[:PORT]` (e.g. a `--dns` flag or a configured authoritative server) → a server,
 * port 53 by default. A host name is allowed here (the transport resolves it with the
 * system resolver, e.g. /etc/hosts); the `dns.servers` list itself takes addresses only.
 */
export function parseDnsServer(text: string): DnsServer {
  const hp = parseHostPort(text.trim(), 53);
  if (!hp) throw new DnsError('OTHER', `invalid DNS server ${JSON.stringify(text)}: expected HOST[:PORT] or [IPv6]:PORT`, { value: text });
  return hp;
}

/** Resolver options from the decoded section; `servers` (e.g. from `--dns`) overrides the configured list. */
export function resolverOptions(config: DnsConfig, overrides: { servers?: readonly DnsServer[] } = {}): ResolverOptions {
  return {
    servers: overrides.servers && overrides.servers.length > 0 ? overrides.servers : config.servers,
    timeoutMs: config.timeout,
    attempts: config.attempts,
    maxTtlSec: Math.floor(config.cache_max_ttl / 1000),
    minTtlSec: Math.floor(config.cache_min_ttl / 1000),
    negativeMaxTtlSec: Math.floor(config.negative_cache_max_ttl / 1000),
    failureTtlSec: Math.floor(config.failure_cache_ttl / 1000),
    maxEntries: config.cache_size,
  };
}
