/**
 * Prometheus view of a resolver's counters (prom-client). Values are read from
 * `resolver.stats()` at scrape time, so the resolver itself knows nothing of prom-client.
 * Metric names: `mailanchor_dns_*`.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Resolver, ResolverStats } from './resolver.ts';

/** Registers the resolver's metrics on `registry` (call once per resolver and registry). */
export function registerDnsMetrics(registry: Registry, resolver: Pick<Resolver, 'stats'>, prefix = 'mailanchor_dns_'): void {
  const counter = (name: string, help: string, read: (s: ResolverStats) => number) =>
    new Counter({
      name: `${prefix}${name}`,
      help,
      registers: [registry],
      collect() {
        // A counter mirroring a monotonic source: reset and set to the current total.
        this.reset();
        this.inc(read(resolver.stats()));
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
    help: 'DNS lookups that failed after every attempt, by error code',
    labelNames: ['code'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [code, n] of Object.entries(resolver.stats().failures)) this.inc({ code }, n ?? 0);
    },
  });
  new Gauge({
    name: `${prefix}cache_entries`,
    help: 'Answers held in the DNS cache',
    registers: [registry],
    collect() {
      this.set(resolver.stats().cacheEntries);
    },
  });
}
