/** The declarative fake DnsLookup other features use in unit tests: it must behave like the real resolver. */
import test from 'ava';
import { fakeLookup } from '../support/fake-dns.ts';
import { mailauthResolver } from '../support/mailauth-resolver.ts';
import { DnsError } from '../../src/dns/types.ts';

const dns = fakeLookup(
  {
    'example.test': { TXT: ['v=spf1 -all'], MX: [{ exchange: 'mx.example.test', priority: 10 }], ttl: 120 },
    'sel._domainkey.example.test': { TXT: [['v=DKIM1; ', 'p=abc']] },
    'alias.example.test': { CNAME: ['sel._domainkey.example.test'], ttl: 30 },
    '_25._tcp.mx.example.test': { TLSA: [{ usage: 3, selector: 1, matchingType: 1, data: Buffer.from('ab', 'hex') }], authenticated: true },
    'broken.example.test': { TXT: { error: 'SERVFAIL' }, A: ['192.0.2.1'] },
    'down.example.test': { error: 'TIMEOUT' },
  },
  { negativeTtl: 45 },
);

test('answers, NXDOMAIN, NODATA and empty non-terminals', async (t) => {
  t.like(await dns.query('Example.Test.', 'TXT'), { rcode: 'NOERROR', records: [['v=spf1 -all']], ttl: 120 });
  t.like(await dns.query('nope.example.test', 'TXT'), { rcode: 'NXDOMAIN', records: [], ttl: 45 });
  t.like(await dns.query('example.test', 'AAAA'), { rcode: 'NOERROR', records: [] });
  t.like(await dns.query('_domainkey.example.test', 'TXT'), { rcode: 'NOERROR', records: [] });
});

test('CNAME chains are followed; errors are DnsErrors; AD only on DO queries', async (t) => {
  t.like(await dns.query('alias.example.test', 'TXT'), { records: [['v=DKIM1; ', 'p=abc']], cnameChain: ['alias.example.test'], canonicalName: 'sel._domainkey.example.test', ttl: 30 });
  t.deepEqual((await dns.query('alias.example.test', 'CNAME')).records, ['sel._domainkey.example.test']);
  t.is((await t.throwsAsync(dns.query('broken.example.test', 'TXT'), { instanceOf: DnsError })).code, 'SERVFAIL');
  t.deepEqual((await dns.query('broken.example.test', 'A')).records, ['192.0.2.1']);
  t.is((await t.throwsAsync(dns.query('down.example.test', 'MX'), { instanceOf: DnsError })).code, 'TIMEOUT');
  t.true((await dns.query('_25._tcp.mx.example.test', 'TLSA', { dnssec: true })).authenticated);
  t.false((await dns.query('_25._tcp.mx.example.test', 'TLSA')).authenticated);
  t.false((await dns.query('example.test', 'TXT', { dnssec: true })).authenticated);
});

test('works through the mailauth adapter, and can change between steps', async (t) => {
  const resolve = mailauthResolver(dns);
  t.deepEqual(await resolve('example.test', 'MX'), [{ exchange: 'mx.example.test', priority: 10 }]);
  t.is(((await t.throwsAsync(resolve('nope.example.test', 'TXT'))) as { code?: string }).code, 'ENOTFOUND');
  const local = fakeLookup({});
  local.set('new.test', { TXT: ['x'] });
  t.deepEqual((await local.query('new.test', 'TXT')).records, [['x']]);
  local.remove('new.test');
  t.is((await local.query('new.test', 'TXT')).rcode, 'NXDOMAIN');
  t.deepEqual(local.calls.map((c) => c.name), ['new.test', 'new.test']);
});
