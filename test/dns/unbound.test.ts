/**
 * The AD bit through a real validating Unbound in front of real Knot servers:
 * signed zone with a trust anchor → AD=1; unsigned zone → AD=0; bogus signature → SERVFAIL.
 */
import test from 'ava';
import { queryServer } from '../../src/dns/client.ts';
import { createResolver } from '../../src/dns/resolver.ts';
import { DnsError } from '../../src/dns/types.ts';
import { knotMissing, startKnot, type KnotServer } from '../support/knot.ts';
import { startUnbound, unboundMissing, type UnboundServer } from '../support/unbound.ts';

const missing = knotMissing() ?? unboundMissing();
const servers: { stop(): Promise<void> }[] = [];
let unbound: UnboundServer | undefined;
let signed: KnotServer | undefined;
let tampered: KnotServer | undefined;

test.before(async () => {
  if (missing) return;
  const tlsa = '_25._tcp.mx 300 IN TLSA 3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';
  signed = await startKnot({ zones: [{ name: 'signed.test', dnssec: true, records: `${tlsa}\nwww 300 IN TXT "hello"` }, { name: 'bogus.test', dnssec: true, records: 'www 300 IN TXT "genuine"' }] });
  servers.push(signed);
  // A copy of bogus.test's signed zone with one record changed after signing: its RRSIG no longer verifies.
  const copy = (await signed.zoneRecords('bogus.test')).replace('"genuine"', '"tampered"');
  tampered = await startKnot({ zones: [{ name: 'bogus.test', records: copy }] });
  servers.push(tampered);
  const plain = await startKnot({ zones: [{ name: 'plain.test', records: `${tlsa}\nwww 300 IN TXT "hello"` }] });
  servers.push(plain);
  unbound = await startUnbound({
    stubs: [
      { zone: 'signed.test', servers: [signed.server], trustAnchors: await signed.ds('signed.test') },
      { zone: 'bogus.test', servers: [tampered.server], trustAnchors: await signed.ds('bogus.test') },
      { zone: 'plain.test', servers: [plain.server] },
    ],
  });
  servers.push(unbound);
});

test.after.always(async () => {
  await Promise.all(servers.map((s) => s.stop()));
});

const it = missing ? test.skip : test;
if (missing) test.skip(`Unbound AD-bit tests: ${missing}`, () => {});

it('a signed zone with a trust anchor: AD=1 on TLSA and TXT (DO set)', async (t) => {
  const tlsa = await queryServer(unbound!.server, '_25._tcp.mx.signed.test', 'TLSA', { dnssec: true });
  t.true(tlsa.authenticated, unbound!.logs());
  t.false(tlsa.authoritative);
  t.deepEqual(tlsa.records.map((r) => [r.usage, r.selector, r.matchingType]), [[3, 1, 1]]);
  const txt = await queryServer(unbound!.server, 'www.signed.test', 'TXT', { dnssec: true });
  t.true(txt.authenticated);
  // A validated NXDOMAIN is authenticated too (NSEC proof).
  const nx = await queryServer(unbound!.server, 'nothing.signed.test', 'TXT', { dnssec: true });
  t.is(nx.rcode, 'NXDOMAIN');
  t.true(nx.authenticated);
});

it('the same data from an unsigned zone: AD=0', async (t) => {
  const tlsa = await queryServer(unbound!.server, '_25._tcp.mx.plain.test', 'TLSA', { dnssec: true });
  t.is(tlsa.records.length, 1);
  t.false(tlsa.authenticated);
});

it('a bogus signature is SERVFAIL, not an answer', async (t) => {
  // Sanity: the tampered server really serves the changed record.
  const direct = await queryServer(tampered!.server, 'www.bogus.test', 'TXT', { recursionDesired: false });
  t.deepEqual(direct.records, [['tampered']]);
  const err = await t.throwsAsync(queryServer(unbound!.server, 'www.bogus.test', 'TXT', { dnssec: true }), { instanceOf: DnsError });
  t.is(err.code, 'SERVFAIL');
});

it('the caching resolver passes the AD bit through and caches DO answers apart', async (t) => {
  // Unbound here serves TTL 0 (cache-max-ttl: 0), so a TTL floor makes our cache keep it.
  const r = createResolver({ servers: [unbound!.server], minTtlSec: 30 });
  const withDo = await r.query('www.signed.test', 'TXT', { dnssec: true });
  t.true(withDo.authenticated);
  const cached = await r.query('www.signed.test', 'TXT', { dnssec: true });
  t.true(cached.authenticated);
  const plain = await r.query('www.signed.test', 'TXT');
  t.false(plain.authenticated); // no DO, no AD (RFC 6840 §5.7)
  t.is(r.stats().cacheHits, 1);
});

it('names outside the test zones are refused locally (Unbound never goes to the internet)', async (t) => {
  const err = await t.throwsAsync(queryServer(unbound!.server, 'example.com', 'A', { timeoutMs: 2000 }), { instanceOf: DnsError });
  t.is(err.code, 'REFUSED');
});
