/**
 * `checkSpf` on the real resolver path: our caching resolver (src/dns/resolver.ts, real DNS
 * wire format over UDP/TCP) asking a real Knot on loopback. Include chains across zones, mx
 * and a with IPv6, a TXT record in several strings, ptr with a reverse zone, a macro built
 * name, exp= from the zone, void lookups, a warm cache, and Knot frozen (DNS down).
 */
import test from 'ava';
import { checkSpf, type SpfInput } from '../../../src/auth/spf/check.ts';
import { createResolver, type Resolver } from '../../../src/dns/resolver.ts';
import { knotMissing, startKnot, type KnotServer } from '../../support/knot.ts';

const missing = knotMissing();
let knot: KnotServer | undefined;

const it = missing ? test.serial.skip : test.serial;
if (missing) test.skip(`SPF against Knot: ${missing}`, () => {});

test.before(async () => {
  if (missing) return;
  knot = await startKnot({
    zones: [
      {
        name: 'example.test',
        records: [
          '@ TXT "v=spf1 include:_spf.example.test -all exp=why.%{d}"',
          '_spf TXT "v=spf1 include:_v4.provider.test include:_v6.provider.test mx:example.test a:relay.example.test exists:%{ir}.%{v}._allow.example.test ~all"',
          '@ MX 10 mx1.example.test.',
          '@ MX 20 mx6.example.test.',
          'mx1 A 192.0.2.25',
          'mx6 AAAA 2001:db8:25::1',
          'relay A 198.51.100.7',
          'relay AAAA 2001:db8:77::7',
          '44.2.0.192.in-addr._allow A 127.0.0.2',
          'why TXT "%{i} is not a server of %{o} (checked by %{r})"',
          // One record in two strings, joined without separator (RFC 7208 §3.3).
          'split TXT "v=spf1 ip4:203.0.113.0/24 " "ip6:2001:db8:cafe::/48 -all"',
          'ptr TXT "v=spf1 ptr:example.test -all"',
          'void TXT "v=spf1 a:nx1.example.test a:nx2.example.test a:nx3.example.test ip4:192.0.2.25 -all"',
          'alias CNAME split.example.test.',
          'two TXT "v=spf1 -all"',
          'two TXT "v=spf1 +all"',
        ].join('\n'),
      },
      { name: 'provider.test', records: ['_v4 TXT "v=spf1 ip4:203.0.113.0/24 ?all"', '_v6 TXT "v=spf1 ip6:2001:db8:beef::/48 ?all"'].join('\n') },
      { name: '2.0.192.in-addr.arpa', records: ['25 PTR mx1.example.test.', '26 PTR spoofed.example.test.'].join('\n') },
    ],
  });
});
test.after.always(async () => {
  await knot?.stop();
});

const limits = { lookups: 10, voidLookups: 2 };
const now = () => Date.UTC(2026, 0, 1);
let resolver: Resolver;

function check(ip: string, mailFrom = 'user@example.test', r: Resolver = resolver) {
  const input: SpfInput = { ip, mailFrom, helo: 'client.example.net', receiver: 'mx.receiver.test' };
  return checkSpf(input, { dns: r, now, limits });
}

test.beforeEach(() => {
  if (knot) resolver = createResolver({ servers: [knot.server], timeoutMs: 1000, attempts: 1 });
});

it('an include chain across zones: IPv4 and IPv6 networks of the provider', async (t) => {
  t.like(await check('203.0.113.9'), { result: 'pass', reason: 'example.test: include:_spf.example.test (_spf.example.test: include:_v4.provider.test (_v4.provider.test: ip4:203.0.113.0/24 matched) matched) matched', lookups: 2 });
  t.like(await check('2001:db8:beef::5'), { result: 'pass', lookups: 3 });
});

it('mx and a with IPv4 and IPv6 clients (A for IPv4, AAAA for IPv6)', async (t) => {
  t.like(await check('192.0.2.25'), { result: 'pass', lookups: 4 });
  t.like(await check('2001:db8:25::1'), { result: 'pass', lookups: 4 });
  t.like(await check('2001:db8:77::7'), { result: 'pass', lookups: 5 });
  t.like(await check('198.51.100.7'), { result: 'pass', lookups: 5 });
  t.like(await check('::ffff:198.51.100.7'), { result: 'pass' }, 'an IPv4-mapped client is checked as IPv4');
});

it('a macro-built exists name; a fail with the explanation from the zone', async (t) => {
  t.like(await check('192.0.2.44'), { result: 'pass', lookups: 6 });
  const fail = await check('192.0.2.99');
  t.like(fail, { result: 'fail', reason: 'example.test: -all matched', explanation: '192.0.2.99 is not a server of example.test (checked by mx.receiver.test)' });
});

it('a record in several strings, reached through a CNAME', async (t) => {
  t.like(await check('2001:db8:cafe::1', 'user@split.example.test'), { result: 'pass' });
  t.like(await check('2001:db8:cafe::1', 'user@alias.example.test'), { result: 'pass' });
  t.like(await check('203.0.114.1', 'user@alias.example.test'), { result: 'fail' });
});

it('ptr with a real reverse zone: validated only when the name resolves back', async (t) => {
  t.like(await check('192.0.2.25', 'user@ptr.example.test'), { result: 'pass', reason: 'ptr.example.test: ptr:example.test matched' });
  t.like(await check('192.0.2.26', 'user@ptr.example.test'), { result: 'fail' }, 'spoofed.example.test has no address');
});

it('void lookups answered NXDOMAIN by Knot count; two SPF records are permerror; no record is none', async (t) => {
  t.like(await check('192.0.2.25', 'user@void.example.test'), { result: 'permerror', reason: 'more than 2 void lookups, at A nx3.example.test (RFC 7208 §4.6.4)' });
  t.like(await check('192.0.2.25', 'user@two.example.test'), { result: 'permerror' });
  t.like(await check('192.0.2.25', 'user@mx1.example.test'), { result: 'none' });
  t.like(await check('192.0.2.25', 'user@nowhere.example.test'), { result: 'none', reason: 'nowhere.example.test does not exist' });
});

it('a warm resolver cache: the second evaluation sends no query', async (t) => {
  await check('192.0.2.25');
  const sent = resolver.stats().queriesSent;
  t.true(sent >= 6);
  t.like(await check('192.0.2.25'), { result: 'pass' });
  t.is(resolver.stats().queriesSent, sent);
});

it('Knot frozen (DNS down): temperror, and a pass again once it answers', async (t) => {
  await knot!.freeze();
  try {
    const r = await check('192.0.2.25');
    t.is(r.result, 'temperror');
    t.regex(r.reason, /DNS TIMEOUT for TXT (_spf\.)?example\.test$/);
  } finally {
    await knot!.thaw();
  }
  t.like(await check('192.0.2.25'), { result: 'pass' });
});
