/**
 * The caching resolver every feature uses (`DnsLookup`): asks the configured recursive
 * servers, caches answers within their TTL (clamped to [minTtl, maxTtl]), caches NXDOMAIN
 * and NODATA with the negative TTL from the SOA (RFC 2308 §5, clamped to
 * negativeMaxTtl), keeps one query in flight per (name, type, dnssec) whatever the number
 * of callers, and retries over the servers in turn on failure.
 *
 * Failures (timeouts, SERVFAIL …) are not cached unless `failureTtlSec` is set (RFC 9520):
 * by default the next caller asks again (an outage costs timeout × attempts per lookup,
 * and concurrent callers share one lookup).
 * Answers for DO queries are cached apart from plain ones, so an AD bit is never served
 * to a caller that got it from a non-DNSSEC answer or vice versa.
 */
import { queryServer } from './client.ts';
import { normalizeName } from './message.ts';
import type { DnsTransport } from './transport.ts';
import { DnsError, type DnsAnswer, type DnsErrorCode, type DnsLookup, type DnsServer, type QueryOptions, type RRType } from './types.ts';

export interface ResolverOptions {
  /** Recursive servers, asked in turn (v4 and v6). At least one. */
  readonly servers: readonly DnsServer[];
  /** Per attempt. Default 2000 ms. */
  readonly timeoutMs?: number;
  /** Attempts per lookup, each on the next server. Default 2. */
  readonly attempts?: number;
  /** TTL ceiling for positive answers. Default 3600 s. */
  readonly maxTtlSec?: number;
  /** TTL floor for positive answers. Default 0 (answers with TTL 0 are not cached). */
  readonly minTtlSec?: number;
  /** TTL ceiling for NXDOMAIN/NODATA. Default 300 s. */
  readonly negativeMaxTtlSec?: number;
  /**
   * Remember a failed lookup (SERVFAIL, timeout … after every attempt) this long and fail
   * again at once, instead of asking again (RFC 9520 §3.2 asks for at least 1 s, at most
   * 5 min). Default 0: off — in-flight joining already bounds the load of an outage.
   */
  readonly failureTtlSec?: number;
  /** Cache entries kept (least recently used evicted). 0 disables the cache. Default 10000. */
  readonly maxEntries?: number;
  /** Clock in ms; tests inject one. Default `Date.now`. */
  readonly now?: () => number;
  /** The wire; unit tests pass a fake. */
  readonly transport?: DnsTransport;
  /** Ask over TCP only. Default false. */
  readonly tcpOnly?: boolean;
  /**
   * Set CD on every query (RFC 4035 §3.2.2): a validating upstream returns data it could
   * not validate instead of SERVFAIL. For diagnostics (`mailanchor audit` reads a zone
   * whose DNSSEC is broken and reports that once, in its dnssec check); never for the milter.
   * Default false.
   */
  readonly checkingDisabled?: boolean;
}

export interface ResolverStats {
  /** Queries put on the wire (each attempt counts). */
  readonly queriesSent: number;
  /** Lookups answered from the cache. */
  readonly cacheHits: number;
  /** Lookups that had to ask (started a query). */
  readonly cacheMisses: number;
  /** Lookups that joined a query already in flight for the same (name, type, dnssec). */
  readonly inFlightJoins: number;
  /** Attempts that failed and were retried on the next server. */
  readonly retries: number;
  /** Lookups answered with a remembered failure (`failureTtlSec`). */
  readonly failureCacheHits: number;
  /** Lookups that failed after every attempt, by error code. */
  readonly failures: Readonly<Partial<Record<DnsErrorCode, number>>>;
  /** Answers by kind (as received from the servers). */
  readonly answers: { readonly positive: number; readonly nxdomain: number; readonly nodata: number };
  readonly cacheEntries: number;
  readonly inFlight: number;
}

export interface Resolver extends DnsLookup {
  stats(): ResolverStats;
  /** Drops every cached answer (in-flight queries finish normally). */
  clear(): void;
  readonly servers: readonly DnsServer[];
}

interface CacheEntry {
  readonly answer: DnsAnswer;
  /** ms, on the injected clock. */
  readonly storedAt: number;
  readonly expiresAt: number;
}

/** Errors worth another server: the next one may answer (RFC 1035 §7.2). */
const RETRYABLE: ReadonlySet<DnsErrorCode> = new Set(['TIMEOUT', 'NETWORK', 'SERVFAIL', 'REFUSED', 'MALFORMED', 'NOTAUTH', 'FORMERR', 'OTHER']);

export function createResolver(options: ResolverOptions): Resolver {
  if (options.servers.length === 0) throw new DnsError('OTHER', 'the resolver needs at least one DNS server', {});
  const servers = [...options.servers];
  const timeoutMs = options.timeoutMs ?? 2000;
  const attempts = Math.max(1, options.attempts ?? 2);
  const maxTtl = options.maxTtlSec ?? 3600;
  const minTtl = Math.min(options.minTtlSec ?? 0, maxTtl);
  const negMaxTtl = options.negativeMaxTtlSec ?? 300;
  const maxEntries = Math.max(0, options.maxEntries ?? 10_000);
  const now = options.now ?? Date.now;

  const failureTtl = Math.min(Math.max(0, options.failureTtlSec ?? 0), 300);
  const cache = new Map<string, CacheEntry>();
  const failed = new Map<string, { error: DnsError; expiresAt: number }>();
  const inFlight = new Map<string, Promise<DnsAnswer>>();
  let nextServer = 0;
  const counters = { queriesSent: 0, cacheHits: 0, cacheMisses: 0, inFlightJoins: 0, retries: 0, failureCacheHits: 0 };
  const failures: Partial<Record<DnsErrorCode, number>> = {};
  const answers = { positive: 0, nxdomain: 0, nodata: 0 };

  function cacheTtl(answer: DnsAnswer): number {
    if (answer.records.length === 0) return Math.min(answer.ttl, negMaxTtl);
    return Math.min(Math.max(answer.ttl, minTtl), maxTtl);
  }

  function fromCache(key: string): DnsAnswer | undefined {
    const e = cache.get(key);
    if (!e) return undefined;
    const t = now();
    if (t >= e.expiresAt) {
      cache.delete(key);
      return undefined;
    }
    cache.delete(key); // LRU: move to the end
    cache.set(key, e);
    // The TTL callers see counts down, as from a real cache (RFC 1035 §6.1.2).
    const remaining = Math.max(0, Math.ceil((e.expiresAt - t) / 1000));
    return { ...e.answer, ttl: Math.min(e.answer.ttl, remaining) };
  }

  function store(key: string, answer: DnsAnswer): void {
    if (maxEntries === 0) return;
    const ttl = cacheTtl(answer);
    if (ttl <= 0) return;
    const t = now();
    cache.delete(key);
    cache.set(key, { answer, storedAt: t, expiresAt: t + ttl * 1000 });
    while (cache.size > maxEntries) {
      const oldest = cache.keys().next().value;
      if (oldest === undefined) break;
      cache.delete(oldest);
    }
  }

  async function ask<T extends RRType>(name: string, type: T, dnssec: boolean): Promise<DnsAnswer<T>> {
    const start = nextServer;
    nextServer = (nextServer + 1) % servers.length;
    let last: DnsError | undefined;
    for (let i = 0; i < attempts; i++) {
      const server = servers[(start + i) % servers.length]!;
      counters.queriesSent++;
      try {
        const answer = await queryServer(server, name, type, {
          dnssec,
          timeoutMs,
          tcpOnly: options.tcpOnly ?? false,
          ...(options.checkingDisabled ? { checkingDisabled: true } : {}),
          ...(options.transport ? { transport: options.transport } : {}),
        });
        if (answer.records.length > 0) answers.positive++;
        else if (answer.rcode === 'NXDOMAIN') answers.nxdomain++;
        else answers.nodata++;
        return answer;
      } catch (err) {
        last = err instanceof DnsError ? err : new DnsError('OTHER', String(err), { server, name, type }, { cause: err });
        if (!RETRYABLE.has(last.code) || i === attempts - 1) break;
        counters.retries++;
      }
    }
    failures[last!.code] = (failures[last!.code] ?? 0) + 1;
    throw new DnsError(last!.code, last!.message, { ...last!.context, attempts }, { cause: last });
  }

  /**
   * The caller's view of a shared in-flight query. The shared promise itself is never
   * handed out and always has a handler (see `query`), so whichever callers give up, its
   * eventual failure is never an unhandled rejection — which would end the process.
   */
  function withSignal<T>(p: Promise<T>, signal: AbortSignal | undefined, context: Record<string, unknown>): Promise<T> {
    if (!signal) return p;
    if (signal.aborted) return Promise.reject(new DnsError('ABORTED', 'lookup aborted', context, { cause: signal.reason }));
    // One caller giving up must not cancel the shared query for the others.
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => reject(new DnsError('ABORTED', 'lookup aborted', context, { cause: signal.reason }));
      signal.addEventListener('abort', onAbort, { once: true });
      p.then(
        (v) => (signal.removeEventListener('abort', onAbort), resolve(v)),
        (e: unknown) => (signal.removeEventListener('abort', onAbort), reject(e)),
      );
    });
  }

  return {
    servers,
    async query<T extends RRType>(rawName: string, type: T, qo: QueryOptions = {}): Promise<DnsAnswer<T>> {
      const name = normalizeName(rawName);
      // A caller that has given up (its message was aborted) starts no work at all.
      if (qo.signal?.aborted) throw new DnsError('ABORTED', 'lookup aborted', { name, type }, { cause: qo.signal.reason });
      const dnssec = qo.dnssec ?? false;
      const key = `${name}|${type}|${dnssec ? 'do' : ''}`;
      const cached = fromCache(key);
      if (cached) {
        counters.cacheHits++;
        return cached as DnsAnswer<T>;
      }
      const fail = failed.get(key);
      if (fail) {
        if (now() < fail.expiresAt) {
          counters.failureCacheHits++;
          throw new DnsError(fail.error.code, fail.error.message, { ...fail.error.context, cachedFailure: true }, { cause: fail.error });
        }
        failed.delete(key);
      }
      const pending = inFlight.get(key);
      if (pending) {
        counters.inFlightJoins++;
        return withSignal(pending as Promise<DnsAnswer<T>>, qo.signal, { name, type });
      }
      counters.cacheMisses++;
      const p = ask(name, type, dnssec).then(
        (answer) => {
          inFlight.delete(key);
          store(key, answer);
          return answer;
        },
        (err: unknown) => {
          inFlight.delete(key);
          if (failureTtl > 0 && err instanceof DnsError) {
            failed.set(key, { error: err, expiresAt: now() + failureTtl * 1000 });
            // Bounded like the cache: drop the oldest remembered failures.
            while (failed.size > Math.max(1, maxEntries)) failed.delete(failed.keys().next().value!);
          }
          throw err;
        },
      );
      // Observed here once for all: each caller gets its own promise from withSignal and
      // handles that; the shared one must not reject unobserved when every caller has gone.
      p.catch(() => undefined);
      inFlight.set(key, p);
      return withSignal(p, qo.signal, { name, type });
    },
    stats: () => ({ ...counters, failures: { ...failures }, answers: { ...answers }, cacheEntries: cache.size, inFlight: inFlight.size }),
    clear: () => {
      cache.clear();
      failed.clear();
    },
  };
}
