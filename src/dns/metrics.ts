/**
 * Prometheus view of DNS (prom-client), `mailanchor_dns_*`. Two sources:
 *
 * - the resolver's own counters (`resolver.stats()`: cache hits, misses, retries, lookups
 *   that failed after every attempt …), read at scrape time, so the resolver knows nothing
 *   of prom-client;
 * - a `DnsMeter` around the wire transport: every exchange with an upstream server timed
 *   (`mailanchor_dns_query_duration_seconds`) and counted by the RCODE of its reply
 *   (`mailanchor_dns_query_results_total`).
 *
 * A reload (SIGHUP) may build a new resolver. The meter outlives resolvers: `use()` makes a
 * new one current and keeps counting the old one (sessions that started before the reload
 * still use it) until it is folded into a running total, so no counter ever goes back.
 */
import { performance } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { networkTransport, type DnsTransport } from './transport.ts';
import type { Resolver, ResolverStats } from './resolver.ts';
import { DnsError, type DnsErrorCode } from './types.ts';

/** RFC 1035 §4.1.1, RFC 2136 §2.2, RFC 8490 names of the 4-bit header RCODE. */
const RCODE_NAMES: readonly string[] = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED', 'YXDOMAIN', 'YXRRSET', 'NXRRSET', 'NOTAUTH', 'NOTZONE', 'DSOTYPENI'];

/** The header RCODE of a reply (the low 4 bits of octet 3); EDNS extended RCODEs are not read. */
export function replyRcode(reply: Buffer): string {
  if (reply.length < 4) return 'MALFORMED';
  const rcode = reply[3]! & 0x0f;
  return RCODE_NAMES[rcode] ?? `RCODE${rcode}`;
}

/** Resolver counters summed over every resolver a meter has seen. */
export type DnsTotals = Pick<ResolverStats, 'queriesSent' | 'cacheHits' | 'cacheMisses' | 'inFlightJoins' | 'retries' | 'failureCacheHits' | 'failures' | 'cacheEntries'>;

const ZERO: DnsTotals = { queriesSent: 0, cacheHits: 0, cacheMisses: 0, inFlightJoins: 0, retries: 0, failureCacheHits: 0, failures: {}, cacheEntries: 0 };

function add(a: DnsTotals, b: DnsTotals, withEntries: boolean): DnsTotals {
  const failures: Partial<Record<DnsErrorCode, number>> = { ...a.failures };
  for (const [code, n] of Object.entries(b.failures) as [DnsErrorCode, number | undefined][]) failures[code] = (failures[code] ?? 0) + (n ?? 0);
  return {
    queriesSent: a.queriesSent + b.queriesSent,
    cacheHits: a.cacheHits + b.cacheHits,
    cacheMisses: a.cacheMisses + b.cacheMisses,
    inFlightJoins: a.inFlightJoins + b.inFlightJoins,
    retries: a.retries + b.retries,
    failureCacheHits: a.failureCacheHits + b.failureCacheHits,
    failures,
    // A gauge: only the current resolver's cache is "the" cache.
    cacheEntries: withEntries ? b.cacheEntries : a.cacheEntries,
  };
}

export interface DnsMeterOptions {
  /** The wire the metered transport wraps. Default: the network. */
  readonly inner?: DnsTransport;
  /** Monotonic clock in ms for latencies. Default `performance.now`. */
  readonly clock?: () => number;
  /** Wall clock in ms, for retiring old resolvers. Default `Date.now`. */
  readonly now?: () => number;
  /**
   * A resolver replaced by a reload keeps being counted this long (sessions that began
   * before the reload still ask it), then its counters are folded into the total and it is
   * let go. Default 1 h; queries it answers after that are not counted.
   */
  readonly retiredGraceMs?: number;
  /** At most this many replaced resolvers are still counted; older ones are folded at once. Default 8. */
  readonly maxRetired?: number;
}

export interface DnsMeter {
  /** A transport for `createResolver({ transport })`: times every exchange and counts its RCODE. */
  readonly transport: DnsTransport;
  /** Makes `resolver` the current one; a previous one is retired, its counts kept. */
  use(resolver: Pick<Resolver, 'stats'>): void;
  /** Counters over every resolver used so far. */
  totals(): DnsTotals;
}

const statsOf = (r: Pick<Resolver, 'stats'>): DnsTotals => {
  const s = r.stats();
  return { queriesSent: s.queriesSent, cacheHits: s.cacheHits, cacheMisses: s.cacheMisses, inFlightJoins: s.inFlightJoins, retries: s.retries, failureCacheHits: s.failureCacheHits, failures: s.failures, cacheEntries: s.cacheEntries };
};

/** The wire-level metrics and the resolver totals, registered on `registry` once per process. */
export function createDnsMeter(registry: Registry, options: DnsMeterOptions = {}, prefix = 'mailanchor_dns_'): DnsMeter {
  const inner = options.inner ?? networkTransport;
  const clock = options.clock ?? (() => performance.now());
  const now = options.now ?? Date.now;
  const grace = options.retiredGraceMs ?? 3_600_000;
  const maxRetired = Math.max(0, options.maxRetired ?? 8);
  const registers = [registry];
  const duration = new Histogram({
    name: `${prefix}query_duration_seconds`,
    help: 'Time of each exchange with an upstream DNS server (one attempt), answered or not',
    labelNames: ['protocol'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5],
    registers,
  });
  const results = new Counter({
    name: `${prefix}query_results_total`,
    help: 'Exchanges with an upstream DNS server by outcome: the RCODE of the reply, or TIMEOUT, NETWORK, MALFORMED, ABORTED when none was usable',
    labelNames: ['rcode'],
    registers,
  });

  const transport: DnsTransport = async (server, request, exchange) => {
    const protocol = exchange.tcp ? 'tcp' : 'udp';
    const start = clock();
    try {
      const reply = await inner(server, request, exchange);
      results.inc({ rcode: replyRcode(reply) });
      return reply;
    } catch (err) {
      results.inc({ rcode: err instanceof DnsError ? err.code : 'OTHER' });
      throw err;
    } finally {
      duration.observe({ protocol }, (clock() - start) / 1000);
    }
  };

  let current: Pick<Resolver, 'stats'> | undefined;
  const retired: { resolver: Pick<Resolver, 'stats'>; at: number }[] = [];
  let folded: DnsTotals = ZERO;
  const fold = (): void => {
    const t = now();
    while (retired.length > maxRetired || (retired.length > 0 && t - retired[0]!.at >= grace)) folded = add(folded, statsOf(retired.shift()!.resolver), false);
  };
  const meter: DnsMeter = {
    transport,
    use(resolver) {
      if (current === resolver) return;
      if (current) retired.push({ resolver: current, at: now() });
      current = resolver;
      fold();
    },
    totals() {
      fold();
      let t = folded;
      for (const r of retired) t = add(t, statsOf(r.resolver), false);
      return current ? add(t, statsOf(current), true) : t;
    },
  };
  registerDnsMetrics(registry, { stats: () => meter.totals() }, prefix);
  return meter;
}

/** Registers the resolver counters of `source` on `registry` (call once per source and registry). */
export function registerDnsMetrics(registry: Registry, source: { stats(): DnsTotals }, prefix = 'mailanchor_dns_'): void {
  const counter = (name: string, help: string, read: (s: DnsTotals) => number) =>
    new Counter({
      name: `${prefix}${name}`,
      help,
      registers: [registry],
      collect() {
        // A counter mirroring a monotonic source: reset and set to the current total.
        this.reset();
        this.inc(read(source.stats()));
      },
    });
  counter('queries_sent_total', 'DNS queries put on the wire (each attempt counts)', (s) => s.queriesSent);
  counter('cache_hits_total', 'DNS lookups answered from the cache', (s) => s.cacheHits);
  counter('cache_misses_total', 'DNS lookups that started a query', (s) => s.cacheMisses);
  counter('inflight_joins_total', 'DNS lookups that joined a query already in flight', (s) => s.inFlightJoins);
  counter('retries_total', 'DNS attempts retried on the next server', (s) => s.retries);
  counter('failure_cache_hits_total', 'DNS lookups answered with a remembered failure (RFC 9520)', (s) => s.failureCacheHits);
  new Counter({
    name: `${prefix}failures_total`,
    help: 'DNS lookups that failed after every attempt, by error code (the RCODE such as SERVFAIL or REFUSED, or TIMEOUT, NETWORK …)',
    labelNames: ['code'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [code, n] of Object.entries(source.stats().failures)) this.inc({ code }, n ?? 0);
    },
  });
  new Gauge({
    name: `${prefix}cache_entries`,
    help: 'Answers held in the DNS cache',
    registers: [registry],
    collect() {
      this.set(source.stats().cacheEntries);
    },
  });
}
