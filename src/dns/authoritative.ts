/**
 * Per-server observations from a zone's authoritative servers, queried directly (RD=0,
 * no cache): the building block of "published on every authoritative server" checks for
 * the DKIM keystore (issue 4) and the DANE rollover (issue 6). This module does not
 * decide what counts as published; it reports, per server, what that server serves —
 * records, TTL, AA flag, CNAME chain and target — or the error it gave.
 *
 * The server list comes from the zone's NS RRset and each nameserver's A/AAAA (through a
 * `DnsLookup`, normally the caching resolver), or from configuration (hidden primaries,
 * tests).
 */
import { queryServer, type QueryServerOptions } from './client.ts';
import { normalizeName } from './message.ts';
import { formatServer } from './transport.ts';
import { DnsError, type DnsAnswer, type DnsLookup, type DnsServer, type RRType } from './types.ts';

export interface AuthoritativeServer {
  readonly address: DnsServer;
  /** The NS host name it was found under; absent for configured servers. */
  readonly nameserver?: string;
}

export interface NameserverProblem {
  readonly nameserver: string;
  readonly error: DnsError;
}

export interface AuthoritativeServers {
  readonly zone: string;
  readonly servers: readonly AuthoritativeServer[];
  /** Nameservers whose addresses could not be looked up (they are not in `servers`). */
  readonly problems: readonly NameserverProblem[];
}

/**
 * The zone's NS names, resolved to every A and AAAA address. Throws a `DnsError` when the
 * NS lookup fails or the zone has no NS RRset (then nothing can be checked);
 * per-nameserver address failures are reported in `problems`.
 */
export async function findAuthoritativeServers(zone: string, lookup: DnsLookup, options: { port?: number; signal?: AbortSignal } = {}): Promise<AuthoritativeServers> {
  const z = normalizeName(zone);
  const q = options.signal ? { signal: options.signal } : {};
  const ns = await lookup.query(z, 'NS', q);
  if (ns.records.length === 0) throw new DnsError('OTHER', `${z} has no NS records (${ns.rcode === 'NXDOMAIN' ? 'NXDOMAIN' : 'NODATA'})`, { zone: z, rcode: ns.rcode });
  const servers: AuthoritativeServer[] = [];
  const problems: NameserverProblem[] = [];
  const names = [...new Set(ns.records)].sort();
  await Promise.all(
    names.map(async (nameserver) => {
      const results = await Promise.allSettled([lookup.query(nameserver, 'A', q), lookup.query(nameserver, 'AAAA', q)]);
      const addrs: string[] = [];
      for (const r of results) {
        if (r.status === 'fulfilled') addrs.push(...r.value.records);
        else problems.push({ nameserver, error: r.reason instanceof DnsError ? r.reason : new DnsError('OTHER', String(r.reason), { nameserver }, { cause: r.reason }) });
      }
      if (addrs.length === 0 && results.every((r) => r.status === 'fulfilled')) {
        problems.push({ nameserver, error: new DnsError('OTHER', `nameserver ${nameserver} has no A or AAAA record`, { zone: z, nameserver }) });
      }
      for (const host of addrs) servers.push({ address: { host, port: options.port ?? 53 }, nameserver });
    }),
  );
  servers.sort((a, b) => formatServer(a.address).localeCompare(formatServer(b.address)));
  return { zone: z, servers, problems };
}

export type ServerObservation<T extends RRType = RRType> =
  | { readonly server: string; readonly nameserver?: string; readonly ok: true; readonly answer: DnsAnswer<T> }
  | { readonly server: string; readonly nameserver?: string; readonly ok: false; readonly error: DnsError };

export interface ObserveOptions {
  readonly timeoutMs?: number;
  /** Tries per server on TIMEOUT/NETWORK before reporting the error. Default 2. */
  readonly attempts?: number;
  readonly dnssec?: boolean;
  readonly tcpOnly?: boolean;
  readonly signal?: AbortSignal;
  readonly transport?: QueryServerOptions['transport'];
}

/** Asks each server directly (RD=0) for (name, type), in parallel; one observation per server, in the given order. */
export async function observeServers<T extends RRType>(servers: readonly (AuthoritativeServer | DnsServer)[], name: string, type: T, options: ObserveOptions = {}): Promise<ServerObservation<T>[]> {
  return Promise.all(
    servers.map(async (s): Promise<ServerObservation<T>> => {
      const address = 'address' in s ? s.address : s;
      const nameserver = 'address' in s && s.nameserver !== undefined ? { nameserver: s.nameserver } : {};
      const server = formatServer(address);
      const attempts = Math.max(1, options.attempts ?? 2);
      for (let i = 1; ; i++) {
        try {
          const answer = await queryServer(address, name, type, {
            recursionDesired: false,
            dnssec: options.dnssec ?? false,
            timeoutMs: options.timeoutMs ?? 3000,
            signal: options.signal,
            tcpOnly: options.tcpOnly ?? false,
            ...(options.transport ? { transport: options.transport } : {}),
          });
          return { server, ...nameserver, ok: true, answer };
        } catch (err) {
          const error = err instanceof DnsError ? err : new DnsError('OTHER', String(err), { server }, { cause: err });
          if (i < attempts && (error.code === 'TIMEOUT' || error.code === 'NETWORK')) continue;
          return { server, ...nameserver, ok: false, error };
        }
      }
    }),
  );
}

export interface ZoneObservation<T extends RRType = RRType> {
  readonly zone: string;
  readonly name: string;
  readonly type: T;
  /** One per server asked: from `servers` when configured, else from the zone's NS. */
  readonly observations: readonly ServerObservation<T>[];
  /** Nameservers that could not be turned into addresses (only when found via NS). */
  readonly problems: readonly NameserverProblem[];
}

/**
 * What every authoritative server of `zone` serves for (name, type). `servers` (configured
 * `HOST[:PORT]` list, e.g. a hidden primary) wins over NS discovery through `lookup`.
 */
export async function observeZone<T extends RRType>(
  zone: string,
  name: string,
  type: T,
  source: { readonly servers?: readonly DnsServer[]; readonly lookup?: DnsLookup },
  options: ObserveOptions = {},
): Promise<ZoneObservation<T>> {
  const z = normalizeName(zone);
  let servers: readonly (AuthoritativeServer | DnsServer)[];
  let problems: readonly NameserverProblem[] = [];
  if (source.servers && source.servers.length > 0) {
    servers = source.servers;
  } else if (source.lookup) {
    const found = await findAuthoritativeServers(z, source.lookup, options.signal ? { signal: options.signal } : {});
    servers = found.servers;
    problems = found.problems;
  } else {
    throw new DnsError('OTHER', `no authoritative servers configured for ${z} and no resolver to find them`, { zone: z });
  }
  const observations = await observeServers(servers, name, type, options);
  return { zone: z, name: normalizeName(name), type, observations, problems };
}
