/** The caching resolver with an injected clock and a fake transport: TTLs, ceilings, negative caching, in-flight joins, retries, stats, metrics. */
import test from 'ava';
import { Registry } from 'prom-client';
import { createResolver } from '../../src/dns/resolver.ts';
import { registerDnsMetrics } from '../../src/dns/metrics.ts';
import { DnsError, type DnsServer } from '../../src/dns/types.ts';
import { fakeTransport, soa, type FakeReply } from './fake-transport.ts';

const S1: DnsServer = { host: '192.0.2.1', port: 53 };
const S2: DnsServer = { host: '2001:db8::53', port: 5353 };

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (sec: number) => (t += sec * 1000) };
}

const txt = (name: string, ttl: number, value = 'v'): FakeReply => ({ answers: [{ name, type: 'TXT', ttl, data: value }] });

test('a positive answer is cached for its TTL, and the TTL served counts down', async (t) => {
  const c = clock();
  const fake = fakeTransport((q) => txt(q.name, 120));
  const r = createResolver({ servers: [S1], now: c.now, transport: fake.transport });
  t.is((await r.query('a.test', 'TXT')).ttl, 120);
  c.advance(100);
  const hit = await r.query('A.Test.', 'TXT');
  t.is(hit.ttl, 20);
  t.is(fake.calls.length, 1);
  c.advance(21);
  await r.query('a.test', 'TXT');
  t.is(fake.calls.length, 2);
  t.like(r.stats(), { queriesSent: 2, cacheHits: 1, cacheMisses: 2 });
});

test('the TTL ceiling (maxTtlSec) and floor (minTtlSec) apply', async (t) => {
  const c = clock();
  const fake = fakeTransport((q) => txt(q.name, q.name === 'long.test' ? 86400 : 1));
  const r = createResolver({ servers: [S1], now: c.now, transport: fake.transport, maxTtlSec: 60, minTtlSec: 10 });
  await r.query('long.test', 'TXT');
  await r.query('short.test', 'TXT');
  c.advance(9);
  await r.query('short.test', 'TXT'); // floor: still cached at 9 s
  t.is(fake.calls.length, 2);
  c.advance(52); // 61 s: past the ceiling
  await r.query('long.test', 'TXT');
  t.is(fake.calls.length, 3);
});

test('NXDOMAIN and NODATA are cached for the SOA negative TTL, capped by negativeMaxTtlSec (RFC 2308)', async (t) => {
  const c = clock();
  const fake = fakeTransport((q) => (q.name === 'nx.test' ? { rcode: 'NXDOMAIN', authorities: [soa('test', 3600, 30)] } : { authorities: [soa('test', 3600, 900)] }));
  const r = createResolver({ servers: [S1], now: c.now, transport: fake.transport, negativeMaxTtlSec: 60 });
  t.is((await r.query('nx.test', 'TXT')).rcode, 'NXDOMAIN');
  t.is((await r.query('nodata.test', 'TXT')).records.length, 0);
  c.advance(29);
  t.is((await r.query('nx.test', 'TXT')).rcode, 'NXDOMAIN');
  await r.query('nodata.test', 'TXT');
  t.is(fake.calls.length, 2);
  c.advance(2); // 31 s: the NXDOMAIN's SOA minimum (30) has passed, NODATA capped at 60 has not
  await r.query('nx.test', 'TXT');
  await r.query('nodata.test', 'TXT');
  t.is(fake.calls.length, 3);
  c.advance(30); // 61 s
  await r.query('nodata.test', 'TXT');
  t.is(fake.calls.length, 4);
  t.like(r.stats().answers, { nxdomain: 2, nodata: 2 });
});

test('one query in flight per (name, type, dnssec) however many callers', async (t) => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const fake = fakeTransport(async (q) => {
    await gate;
    return txt(q.name, 60);
  });
  const r = createResolver({ servers: [S1], transport: fake.transport });
  const many = Array.from({ length: 50 }, () => r.query('same.test', 'TXT'));
  const other = r.query('same.test', 'TXT', { dnssec: true }); // a different cache key
  await Promise.resolve();
  t.is(r.stats().inFlight, 2);
  release();
  const answers = await Promise.all([...many, other]);
  t.true(answers.every((a) => a.records[0]![0] === 'v'));
  t.is(fake.calls.length, 2);
  t.like(r.stats(), { inFlightJoins: 49, cacheMisses: 2, queriesSent: 2, inFlight: 0 });
  t.true(fake.calls.some((q) => q.dnssecOk));
});

test('retries rotate over the servers; the next lookup starts on the next server', async (t) => {
  const fake = fakeTransport((q) => (q.server === S1 ? { fail: 'TIMEOUT' } : txt(q.name, 60)));
  const r = createResolver({ servers: [S1, S2], attempts: 2, transport: fake.transport });
  t.deepEqual((await r.query('x.test', 'TXT')).records, [['v']]);
  t.deepEqual(fake.calls.map((c) => c.server), [S1, S2]);
  await r.query('y.test', 'TXT');
  t.deepEqual(fake.calls.map((c) => c.server).slice(2), [S2]);
  t.like(r.stats(), { retries: 1, queriesSent: 3 });
});

test('a lookup that fails on every attempt rejects with the last code, is counted and not cached', async (t) => {
  const fake = fakeTransport(() => ({ rcode: 'SERVFAIL' }));
  const r = createResolver({ servers: [S1, S2], attempts: 3, transport: fake.transport });
  const err = await t.throwsAsync(r.query('broken.test', 'TXT'), { instanceOf: DnsError });
  t.is(err.code, 'SERVFAIL');
  t.is(err.context.attempts, 3);
  t.is(fake.calls.length, 3);
  await t.throwsAsync(r.query('broken.test', 'TXT'));
  t.is(fake.calls.length, 6);
  t.deepEqual(r.stats().failures, { SERVFAIL: 2 });
});

test('failureTtlSec remembers a failure (RFC 9520) and asks again after it', async (t) => {
  const c = clock();
  let down = true;
  const fake = fakeTransport((q) => (down ? { fail: 'TIMEOUT' } : txt(q.name, 60)));
  const r = createResolver({ servers: [S1], attempts: 1, failureTtlSec: 5, now: c.now, transport: fake.transport });
  t.is((await t.throwsAsync(r.query('down.test', 'TXT'), { instanceOf: DnsError })).code, 'TIMEOUT');
  down = false;
  c.advance(4);
  const again = await t.throwsAsync(r.query('down.test', 'TXT'), { instanceOf: DnsError });
  t.is(again.code, 'TIMEOUT');
  t.true(again.context.cachedFailure);
  t.is(fake.calls.length, 1);
  c.advance(2);
  t.deepEqual((await r.query('down.test', 'TXT')).records, [['v']]);
  t.like(r.stats(), { failureCacheHits: 1, queriesSent: 2 });
});

test('the cache keeps at most maxEntries, dropping the least recently used', async (t) => {
  const fake = fakeTransport((q) => txt(q.name, 300));
  const r = createResolver({ servers: [S1], maxEntries: 2, transport: fake.transport });
  await r.query('a.test', 'TXT');
  await r.query('b.test', 'TXT');
  await r.query('a.test', 'TXT'); // a is now most recent
  await r.query('c.test', 'TXT'); // evicts b
  t.is(r.stats().cacheEntries, 2);
  await r.query('a.test', 'TXT');
  t.is(fake.calls.length, 3);
  await r.query('b.test', 'TXT');
  t.is(fake.calls.length, 4);
});

test("one caller's abort does not cancel the shared query for the others", async (t) => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const fake = fakeTransport(async (q) => (await gate, txt(q.name, 60)));
  const r = createResolver({ servers: [S1], transport: fake.transport });
  const ac = new AbortController();
  const first = r.query('shared.test', 'TXT', { signal: ac.signal });
  const second = r.query('shared.test', 'TXT');
  ac.abort();
  const err = await t.throwsAsync(first, { instanceOf: DnsError });
  t.is(err.code, 'ABORTED');
  release();
  t.deepEqual((await second).records, [['v']]);
});

test('registerDnsMetrics exposes the counters to prom-client', async (t) => {
  const fake = fakeTransport((q) => (q.name === 'bad.test' ? { rcode: 'REFUSED' } : txt(q.name, 60)));
  const r = createResolver({ servers: [S1], attempts: 1, transport: fake.transport });
  await r.query('ok.test', 'TXT');
  await r.query('ok.test', 'TXT');
  await t.throwsAsync(r.query('bad.test', 'TXT'));
  const registry = new Registry();
  registerDnsMetrics(registry, r);
  const text = await registry.metrics();
  t.regex(text, /^mailanchor_dns_queries_sent_total 2$/m);
  t.regex(text, /^mailanchor_dns_cache_hits_total 1$/m);
  t.regex(text, /^mailanchor_dns_failures_total\{code="REFUSED"\} 1$/m);
  t.regex(text, /^mailanchor_dns_cache_entries 1$/m);
  await r.query('ok2.test', 'TXT');
  t.regex(await registry.metrics(), /^mailanchor_dns_queries_sent_total 3$/m);
});

test('the resolver refuses an empty server list', (t) => {
  t.throws(() => createResolver({ servers: [] }), { instanceOf: DnsError });
});
