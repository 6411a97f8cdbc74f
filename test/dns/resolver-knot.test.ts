/** The caching resolver against a real Knot: caching, in-flight dedupe, negative caching, out-of-band changes, failover. */
import test from 'ava';
import { createResolver } from '../../src/dns/resolver.ts';
import { mailauthResolver } from '../support/mailauth-resolver.ts';
import { DnsError } from '../../src/dns/types.ts';
import { freePort } from '../support/ports.ts';
import { knotMissing, startKnot, type KnotServer } from '../support/knot.ts';

const missing = knotMissing();
let knot: KnotServer | undefined;
const extra: KnotServer[] = [];

test.before(async () => {
  if (missing) return;
  knot = await startKnot({
    ipv6: true,
    zones: [
      {
        name: 'res.test',
        negativeTtl: 30,
        records: ['@ 300 IN TXT "v=spf1 ip4:192.0.2.0/24 -all"', '@ 300 IN MX 10 mx.res.test.', 'mx 300 IN A 192.0.2.25', 'sel._domainkey 60 IN TXT "v=DKIM1; p=abc"'].join('\n'),
      },
    ],
  });
});
test.after.always(async () => {
  await Promise.all([knot?.stop(), ...extra.map((k) => k.stop())]);
});

const it = missing ? test.skip : test;
if (missing) test.skip(`resolver tests against Knot: ${missing}`, () => {});

function clock() {
  let t = 5_000_000;
  return { now: () => t, advance: (s: number) => (t += s * 1000) };
}

it('answers are cached for their TTL: an out-of-band change is seen only after expiry', async (t) => {
  const c = clock();
  const r = createResolver({ servers: [knot!.server], now: c.now });
  t.deepEqual((await r.query('sel._domainkey.res.test', 'TXT')).records, [['v=DKIM1; p=abc']]);
  await knot!.setRecords('res.test', [{ name: 'sel._domainkey', type: 'TXT', ttl: 60, data: '"v=DKIM1; p=changed"' }]);
  await knot!.removeRecords('res.test', [{ name: 'sel._domainkey', type: 'TXT', data: '"v=DKIM1; p=abc"' }]);
  c.advance(59);
  t.deepEqual((await r.query('sel._domainkey.res.test', 'TXT')).records, [['v=DKIM1; p=abc']]);
  c.advance(2);
  t.deepEqual((await r.query('sel._domainkey.res.test', 'TXT')).records, [['v=DKIM1; p=changed']]);
  t.like(r.stats(), { queriesSent: 2, cacheHits: 1 });
});

it('NXDOMAIN is cached for the SOA minimum; a record added meanwhile appears after it', async (t) => {
  const c = clock();
  const r = createResolver({ servers: [knot!.server], now: c.now });
  t.is((await r.query('late.res.test', 'TXT')).rcode, 'NXDOMAIN');
  await knot!.setRecords('res.test', [{ name: 'late', type: 'TXT', data: '"here"' }]);
  c.advance(29);
  t.is((await r.query('late.res.test', 'TXT')).rcode, 'NXDOMAIN');
  c.advance(2);
  t.deepEqual((await r.query('late.res.test', 'TXT')).records, [['here']]);
  t.is(r.stats().queriesSent, 2);
});

it('100 concurrent lookups of one name send one query', async (t) => {
  const r = createResolver({ servers: [knot!.server] });
  const all = await Promise.all(Array.from({ length: 100 }, () => r.query('res.test', 'MX')));
  t.true(all.every((a) => a.records[0]?.exchange === 'mx.res.test'));
  t.like(r.stats(), { queriesSent: 1, inFlightJoins: 99 });
});

it('a dead first server fails over to the live one', async (t) => {
  const dead = { host: '127.0.0.1', port: await freePort() }; // nothing listens: ICMP port unreachable or timeout
  const r = createResolver({ servers: [dead, knot!.server], timeoutMs: 1500, attempts: 2 });
  t.is((await r.query('mx.res.test', 'A')).records[0], '192.0.2.25');
  t.is(r.stats().retries, 1);
});

it('IPv6 servers work, and retries rotate over v4 and v6 servers', async (t) => {
  const k = knot!;
  const deadV6 = { host: '::1', port: await freePort() };
  const r = createResolver({ servers: [deadV6, k.serverV6!, k.server], timeoutMs: 1500, attempts: 2 });
  t.is((await r.query('mx.res.test', 'A')).records[0], '192.0.2.25'); // ::1 dead → [::1]:knot
  t.is((await r.query('res.test', 'TXT')).records.length, 1); // starts on [::1]:knot
  t.is((await r.query('mx.res.test', 'AAAA')).rcode, 'NOERROR'); // starts on 127.0.0.1:knot
  t.like(r.stats(), { retries: 1, queriesSent: 4 });
});

it('a stopped server gives a DnsError, which the mailauth adapter turns into a temperror code', async (t) => {
  const k = await startKnot({ zones: [{ name: 'gone.test', records: 'www 300 IN TXT "x"' }] });
  extra.push(k);
  const r = createResolver({ servers: [k.server], timeoutMs: 1500, attempts: 2 });
  const resolve = mailauthResolver(r);
  t.deepEqual(await resolve('www.gone.test', 'TXT'), [['x']]);
  await k.stop();
  const err = await t.throwsAsync(r.query('other.gone.test', 'TXT'), { instanceOf: DnsError });
  t.true(['TIMEOUT', 'NETWORK'].includes(err.code), err.code);
  const viaAdapter = await t.throwsAsync(resolve('more.gone.test', 'TXT'));
  t.true(['ETIMEOUT', 'ECONNREFUSED'].includes((viaAdapter as { code?: string }).code ?? ''));
  // The cached answer still serves.
  t.deepEqual(await resolve('www.gone.test', 'TXT'), [['x']]);
});

it('mailauth adapter shapes against Knot: TXT string[][], MX objects, ENOTFOUND and ENODATA', async (t) => {
  const resolve = mailauthResolver(createResolver({ servers: [knot!.server] }));
  t.deepEqual(await resolve('res.test', 'TXT'), [['v=spf1 ip4:192.0.2.0/24 -all']]);
  t.deepEqual(await resolve('res.test', 'MX'), [{ exchange: 'mx.res.test', priority: 10 }]);
  t.deepEqual(await resolve('mx.res.test', 'A'), ['192.0.2.25']);
  t.is(((await t.throwsAsync(resolve('nope.res.test', 'TXT'))) as { code?: string }).code, 'ENOTFOUND');
  t.is(((await t.throwsAsync(resolve('mx.res.test', 'TXT'))) as { code?: string }).code, 'ENODATA');
});
