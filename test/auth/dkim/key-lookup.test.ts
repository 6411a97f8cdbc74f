/** Key lookup (RFC 6376 §3.6.2, §6.1.2): answers → found / missing / invalid / temperror, and the parse cache. */
import test from 'ava';
import { generateKeyPairSync } from 'node:crypto';
import { KeyParseCache, lookupDkimKey } from '../../../src/auth/dkim/key-lookup.ts';
import { fakeLookup } from '../../support/fake-dns.ts';
import { keyRecord } from '../../support/dkim-run.ts';

const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
const record = keyRecord(rsa);

test('found: the record split over character-strings is joined (§3.6.2.2); the TTL is kept', async (t) => {
  const dns = fakeLookup({ 's._domainkey.example.test': { TXT: [[record.slice(0, 100), record.slice(100)]], ttl: 120 } });
  const r = await lookupDkimKey(dns, 's', 'example.test', { cache: new KeyParseCache() });
  t.is(r.kind, 'found');
  if (r.kind === 'found') {
    t.is(r.keys.length, 1);
    t.is(r.ttl, 120);
  }
  t.deepEqual(dns.calls, [{ name: 's._domainkey.example.test', type: 'TXT', dnssec: false }]);
});

test('missing (NXDOMAIN, NODATA), invalid (revoked, junk), temperror (every DnsError)', async (t) => {
  const cache = new KeyParseCache();
  const dns = fakeLookup({
    'nodata._domainkey.example.test': { A: ['192.0.2.1'] },
    'revoked._domainkey.example.test': { TXT: ['v=DKIM1; p='] },
    'junk._domainkey.example.test': { TXT: ['hello world'] },
    'mixed._domainkey.example.test': { TXT: ['v=DKIM1; p=', 'junk=;;'] },
    'fail._domainkey.example.test': { TXT: { error: 'SERVFAIL' } },
    'slow._domainkey.example.test': { error: 'TIMEOUT' },
  });
  const look = (s: string) => lookupDkimKey(dns, s, 'example.test', { cache });
  t.like(await look('none'), { kind: 'missing', reason: 'no key at none._domainkey.example.test (NXDOMAIN)' });
  t.like(await look('nodata'), { kind: 'missing', reason: 'no key at nodata._domainkey.example.test (no TXT record)' });
  t.deepEqual(await look('revoked'), { kind: 'invalid', reason: 'key revoked (empty p=)', revoked: true });
  t.like(await look('junk'), { kind: 'invalid' });
  t.false('revoked' in (await look('mixed')), 'revoked only when every record is');
  t.like(await look('fail'), { kind: 'temperror', reason: 'key lookup fail._domainkey.example.test: SERVFAIL' });
  t.like(await look('slow'), { kind: 'temperror' });
});

test('names: U-labels looked up as A-labels (RFC 8616), an over-long name refused without a query', async (t) => {
  const dns = fakeLookup({ 's._domainkey.xn--bcher-kva.test': { TXT: [record] } });
  t.is((await lookupDkimKey(dns, 's', 'bücher.test', { cache: new KeyParseCache() })).kind, 'found');
  const long = `${'a'.repeat(60)}.`.repeat(4) + 'test';
  t.like(await lookupDkimKey(dns, 'sel', long, { cache: new KeyParseCache() }), { kind: 'invalid' });
  t.is(dns.calls.length, 1);
});

test('at most 4 records of a selector are parsed', async (t) => {
  const junk = Array.from({ length: 10 }, (_, i) => `v=DKIM1; p=AAA${i}`);
  const dns = fakeLookup({ 's._domainkey.example.test': { TXT: [...junk, record] } });
  t.is((await lookupDkimKey(dns, 's', 'example.test', { cache: new KeyParseCache() })).kind, 'invalid');
});

test('KeyParseCache: same text → the same parse; least recently used dropped; over-long texts not kept', (t) => {
  const cache = new KeyParseCache(2);
  const a = cache.parse(record);
  t.is(cache.parse(record), a);
  cache.parse('v=DKIM1; p=');
  cache.parse(record); // refresh
  cache.parse('junk'); // evicts 'v=DKIM1; p='
  t.is(cache.parse(record), a);
  const long = `v=DKIM1; n=${'x'.repeat(5000)}; p=`;
  t.not(cache.parse(long), cache.parse(long), 'parsed again each time, not cached');
});
