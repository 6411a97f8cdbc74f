/**
 * A declarative fake `DnsLookup` for unit tests (owner: dns) — no sockets, answers shaped
 * exactly like the real resolver's, so a feature's unit tests need no DNS server:
 *
 * ```ts
 * const dns = fakeLookup({
 *   'example.test': { TXT: ['v=spf1 ip4:192.0.2.0/24 -all'], MX: [{ exchange: 'mx.example.test', priority: 10 }] },
 *   'sel._domainkey.example.test': { TXT: [['v=DKIM1; k=rsa; ', 'p=MIIB…']] },
 *   'alias.example.test': { CNAME: ['example.test'] },
 *   '_25._tcp.mx.example.test': { TLSA: [{ usage: 3, selector: 1, matchingType: 1, data: Buffer.from('ab', 'hex') }], authenticated: true },
 *   'broken.example.test': { TXT: { error: 'SERVFAIL' } },
 *   'down.example.test': { error: 'TIMEOUT' },
 * });
 * ```
 *
 * Rules: a name not listed (and not an ancestor of a listed name) → NXDOMAIN; a listed
 * name (or an empty non-terminal such as `_domainkey.example.test`) without that type →
 * NODATA; a CNAME is followed (up to 16) unless CNAME itself is asked; `{ error }` rejects
 * with a `DnsError` of that code (per name, or per type); a TXT record given as a string
 * is one character-string. `authenticated` (per name, or `options.authenticated`) sets
 * the AD bit on DO queries only, as a validating resolver does. `dns.calls` lists every
 * query; `dns.set(name, entry)` / `dns.remove(name)` change the zone between steps.
 */
import { DnsError, type DnsAnswer, type DnsErrorCode, type DnsLookup, type QueryOptions, type RecordDataByType, type RRType } from '../../src/dns/types.ts';

type TypeEntry<T extends RRType> = T extends 'TXT' ? readonly (string | readonly string[])[] | { error: DnsErrorCode } : readonly RecordDataByType[T][] | { error: DnsErrorCode };

export type FakeName = { readonly [T in RRType]?: TypeEntry<T> } & {
  readonly error?: DnsErrorCode;
  readonly ttl?: number;
  readonly authenticated?: boolean;
};

export interface FakeLookupOptions {
  /** TTL of positive answers without their own `ttl`. Default 300. */
  readonly ttl?: number;
  /** TTL of NXDOMAIN/NODATA. Default 60. */
  readonly negativeTtl?: number;
  /** AD bit for every DO query (unless a name says otherwise). Default false. */
  readonly authenticated?: boolean;
}

export interface FakeLookup extends DnsLookup {
  readonly calls: { name: string; type: RRType; dnssec: boolean }[];
  set(name: string, entry: FakeName): void;
  remove(name: string): void;
}

const norm = (n: string) => n.toLowerCase().replace(/\.$/, '');

export function fakeLookup(zone: Readonly<Record<string, FakeName>>, options: FakeLookupOptions = {}): FakeLookup {
  const names = new Map<string, FakeName>(Object.entries(zone).map(([k, v]) => [norm(k), v]));
  const calls: FakeLookup['calls'] = [];
  return {
    calls,
    set: (name, entry) => void names.set(norm(name), entry),
    remove: (name) => void names.delete(norm(name)),
    async query<T extends RRType>(rawName: string, type: T, qo: QueryOptions = {}): Promise<DnsAnswer<T>> {
      const name = norm(rawName);
      const dnssec = qo.dnssec ?? false;
      calls.push({ name, type, dnssec });
      const chain: string[] = [];
      let current = name;
      let ttl = Number.POSITIVE_INFINITY;
      let ad = true;
      for (;;) {
        const entry = names.get(current);
        if (entry?.error) throw new DnsError(entry.error, `fake ${entry.error} for ${current}`, { server: 'fake', name: current, type });
        ad &&= entry?.authenticated ?? options.authenticated ?? false;
        const cname = entry?.CNAME;
        if (type !== 'CNAME' && entry && !entry[type] && Array.isArray(cname) && cname.length > 0) {
          if (chain.length >= 16 || chain.includes(current)) throw new DnsError('MALFORMED', `CNAME loop at ${current}`, { server: 'fake', name });
          chain.push(current);
          ttl = Math.min(ttl, entry.ttl ?? options.ttl ?? 300);
          current = norm(cname[0] as string);
          continue;
        }
        const base = { name, type, authenticated: dnssec && ad, authoritative: false, cnameChain: chain, canonicalName: current };
        const data = entry?.[type] as TypeEntry<T> | undefined;
        if (data && !Array.isArray(data) && 'error' in data) throw new DnsError(data.error, `fake ${data.error} for ${current} ${type}`, { server: 'fake', name: current, type });
        if (entry && Array.isArray(data) && data.length > 0) {
          const records = (type === 'TXT' ? data.map((r) => (typeof r === 'string' ? [r] : r)) : data) as RecordDataByType[T][];
          return { ...base, rcode: 'NOERROR', records, ttl: Math.min(ttl, entry.ttl ?? options.ttl ?? 300) };
        }
        const exists = entry !== undefined || [...names.keys()].some((k) => k.endsWith(`.${current}`));
        return { ...base, rcode: exists ? 'NOERROR' : 'NXDOMAIN', records: [], ttl: Math.min(ttl, options.negativeTtl ?? 60) };
      }
    },
  };
}
