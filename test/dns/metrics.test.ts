/**
 * The DNS meter (src/dns/metrics.ts): the wire transport timed and counted by RCODE, and the
 * resolvers' counters summed across a reload that replaces the resolver — no counter goes back.
 */
import test from 'ava';
import { Registry } from 'prom-client';
import { createDnsMeter, replyRcode } from '../../src/dns/metrics.ts';
import { createResolver } from '../../src/dns/resolver.ts';
import type { DnsServer } from '../../src/dns/types.ts';
import { fakeTransport } from './fake-transport.ts';

const S1: DnsServer = { host: '192.0.2.1', port: 53 };
const line = (text: string, name: string): number | undefined => {
  const m = new RegExp(`^${name.replace(/[{}"]/g, (c) => `\\${c}`)} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
};

test('replyRcode names the 4-bit RCODE of a reply header', (t) => {
  const h = (rcode: number) => Buffer.from([0, 1, 0x81, 0x80 | rcode, 0, 0]);
  t.is(replyRcode(h(0)), 'NOERROR');
  t.is(replyRcode(h(2)), 'SERVFAIL');
  t.is(replyRcode(h(3)), 'NXDOMAIN');
  t.is(replyRcode(h(5)), 'REFUSED');
  t.is(replyRcode(h(15)), 'RCODE15');
  t.is(replyRcode(Buffer.from([0, 1])), 'MALFORMED');
});

test('every exchange is timed and counted: answers by RCODE, timeouts by error code', async (t) => {
  const registry = new Registry();
  const fake = fakeTransport((q) => (q.name === 'gone.test' ? { rcode: 'NXDOMAIN' } : q.name === 'bad.test' ? { rcode: 'SERVFAIL' } : q.name === 'slow.test' ? { fail: 'TIMEOUT' } : { answers: [{ name: q.name, type: 'TXT', ttl: 60, data: 'v' }] }));
  let clock = 0;
  const meter = createDnsMeter(registry, { inner: fake.transport, clock: () => (clock += 5) });
  const r = createResolver({ servers: [S1], attempts: 1, transport: meter.transport });
  meter.use(r);
  await r.query('ok.test', 'TXT');
  await r.query('gone.test', 'TXT');
  await t.throwsAsync(r.query('bad.test', 'TXT'));
  await t.throwsAsync(r.query('slow.test', 'TXT'));
  const text = await registry.metrics();
  t.is(line(text, 'mailanchor_dns_query_results_total{rcode="NOERROR"}'), 1);
  t.is(line(text, 'mailanchor_dns_query_results_total{rcode="NXDOMAIN"}'), 1);
  t.is(line(text, 'mailanchor_dns_query_results_total{rcode="SERVFAIL"}'), 1);
  t.is(line(text, 'mailanchor_dns_query_results_total{rcode="TIMEOUT"}'), 1);
  t.is(line(text, 'mailanchor_dns_query_duration_seconds_count{protocol="udp"}'), 4);
  t.is(line(text, 'mailanchor_dns_query_duration_seconds_sum{protocol="udp"}'), 0.02, '5 ms each on the injected clock');
  t.is(line(text, 'mailanchor_dns_query_duration_seconds_bucket{le="0.005",protocol="udp"}'), 4);
  t.is(line(text, 'mailanchor_dns_failures_total{code="SERVFAIL"}'), 1);
  t.is(line(text, 'mailanchor_dns_failures_total{code="TIMEOUT"}'), 1);
});

test('a replaced resolver keeps counting until it is folded; totals never go back; cache_entries is the current cache', async (t) => {
  const registry = new Registry();
  const fake = fakeTransport((q) => ({ answers: [{ name: q.name, type: 'TXT', ttl: 60, data: 'v' }] }));
  let now = 0;
  const meter = createDnsMeter(registry, { inner: fake.transport, now: () => now, retiredGraceMs: 1000 });
  const old = createResolver({ servers: [S1], transport: meter.transport });
  meter.use(old);
  await old.query('a.test', 'TXT');
  await old.query('a.test', 'TXT'); // a hit
  const fresh = createResolver({ servers: [S1], transport: meter.transport });
  meter.use(fresh);
  meter.use(fresh); // idempotent
  t.like(meter.totals(), { queriesSent: 1, cacheHits: 1, cacheMisses: 1, cacheEntries: 0 });
  await old.query('b.test', 'TXT'); // a session from before the reload
  await fresh.query('c.test', 'TXT');
  t.like(meter.totals(), { queriesSent: 3, cacheMisses: 3, cacheEntries: 1 });
  now = 2000; // the grace is over: folded, and let go
  t.like(meter.totals(), { queriesSent: 3, cacheMisses: 3 });
  await old.query('d.test', 'TXT'); // no longer counted (documented)
  t.like(meter.totals(), { queriesSent: 3 });
  await fresh.query('e.test', 'TXT');
  t.like(meter.totals(), { queriesSent: 4 });
  t.is(line(await registry.metrics(), 'mailanchor_dns_queries_sent_total'), 4);
});

test('at most maxRetired replaced resolvers are counted separately; older ones are folded at once', async (t) => {
  const fake = fakeTransport((q) => ({ answers: [{ name: q.name, type: 'TXT', ttl: 60, data: 'v' }] }));
  const meter = createDnsMeter(new Registry(), { inner: fake.transport, maxRetired: 2 });
  for (let i = 0; i < 10; i++) {
    const r = createResolver({ servers: [S1], transport: meter.transport });
    meter.use(r);
    await r.query(`n${i}.test`, 'TXT');
  }
  t.like(meter.totals(), { queriesSent: 10, cacheMisses: 10 });
});
