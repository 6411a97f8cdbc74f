import test from 'ava';
import { clientAddress, expandIpv6, reverseName, sameAddress } from '../../../src/auth/iprev/address.ts';
import { checkIprev, MAX_NAMES } from '../../../src/auth/iprev/check.ts';
import type { IprevResult } from '../../../src/auth/results.ts';
import { fakeLookup } from '../../support/fake-dns.ts';

test('reverse names: in-addr.arpa, ip6.arpa nibbles, IPv4-mapped IPv6 as IPv4', (t) => {
  t.is(reverseName(clientAddress('192.0.2.1')!), '1.2.0.192.in-addr.arpa');
  t.is(reverseName(clientAddress('2001:db8::25')!), '5.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa');
  t.is(reverseName(clientAddress('::ffff:192.0.2.1')!), '1.2.0.192.in-addr.arpa');
  t.is(reverseName(clientAddress('fe80::1%eth0')!), '1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.e.f.ip6.arpa');
  t.is(expandIpv6('::'), '0'.repeat(32));
  t.is(expandIpv6('2001:DB8::'), '20010db8000000000000000000000000');
  t.is(expandIpv6('::192.0.2.1'), '000000000000000000000000c0000201');
  t.is(clientAddress('not-an-ip'), undefined);
});

test('address equality across AAAA spellings; families never match each other', (t) => {
  const a = clientAddress('2001:db8:0:0::25')!;
  t.true(sameAddress(a, '2001:DB8::25'));
  t.true(sameAddress(a, '2001:0db8:0000:0000:0000:0000:0000:0025'));
  t.false(sameAddress(a, '2001:db8::26'));
  t.false(sameAddress(clientAddress('192.0.2.1')!, '::ffff:192.0.2.2'));
  t.true(sameAddress(clientAddress('::ffff:192.0.2.1')!, '192.0.2.1'));
});

const zone = {
  '1.2.0.192.in-addr.arpa': { PTR: ['mail.example.org.'] },
  'mail.example.org': { A: ['192.0.2.1'], AAAA: ['2001:db8::25'] },
  '5.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa': { PTR: ['mail.example.org'] },
  '2.2.0.192.in-addr.arpa': { PTR: ['liar.example.org'] },
  'liar.example.org': { A: ['198.51.100.7'] },
  '3.2.0.192.in-addr.arpa': { PTR: ['gone.example.org', 'down.example.org'] },
  'down.example.org': { A: { error: 'TIMEOUT' as const } },
  '4.2.0.192.in-addr.arpa': { TXT: ['not a ptr'] },
  '5.2.0.192.in-addr.arpa': { error: 'SERVFAIL' as const },
  '6.2.0.192.in-addr.arpa': { PTR: ['v6only.example.org'] },
  'v6only.example.org': { AAAA: ['::ffff:192.0.2.6'] },
  '7.2.0.192.in-addr.arpa': { PTR: ['bad name!.example', 'mail7.example.org'] },
  'mail7.example.org': { A: ['192.0.2.7'] },
};

// RFC 8601 §2.7.3.
const cases: [string, IprevResult, string][] = [
  ['192.0.2.1', 'pass', 'a PTR name resolves back'],
  ['2001:db8::25', 'pass', 'IPv6: the AAAA of the PTR name matches'],
  ['::ffff:192.0.2.1', 'pass', 'an IPv4-mapped client is checked as IPv4'],
  ['192.0.2.2', 'fail', 'the PTR name resolves elsewhere'],
  ['2001:db8::26', 'permerror', 'IPv6 without any PTR (the Gmail case)'],
  ['192.0.2.9', 'permerror', 'no PTR: NXDOMAIN'],
  ['192.0.2.4', 'permerror', 'no PTR: NODATA'],
  ['192.0.2.5', 'temperror', 'the PTR lookup SERVFAILs'],
  ['192.0.2.3', 'temperror', 'no match, and one forward lookup timed out'],
  ['192.0.2.6', 'fail', 'only AAAA (even a mapped one) for an IPv4 client: the family must match'],
  ['192.0.2.7', 'pass', 'an invalid PTR name is skipped, the next one confirms'],
  ['garbage', 'permerror', 'not an IP address'],
];
for (const [ip, result, title] of cases) {
  test(`iprev ${ip}: ${result} — ${title}`, async (t) => {
    const r = await checkIprev(ip, fakeLookup(zone));
    t.is(r.result, result, r.reason);
    t.is(r.ip, ip);
    t.true(r.reason.length > 0);
  });
}

test('pass names the confirmed name; fail lists the PTR names', async (t) => {
  t.deepEqual((await checkIprev('192.0.2.1', fakeLookup(zone))).names, ['mail.example.org']);
  t.deepEqual((await checkIprev('192.0.2.2', fakeLookup(zone))).names, ['liar.example.org']);
});

test(`at most ${MAX_NAMES} PTR names are looked up, in parallel`, async (t) => {
  const names = Array.from({ length: 30 }, (_, i) => `n${i}.example.org`);
  const dns = fakeLookup({ '8.2.0.192.in-addr.arpa': { PTR: names } });
  const r = await checkIprev('192.0.2.8', dns);
  t.is(r.result, 'fail');
  t.is(dns.calls.filter((c) => c.type === 'A').length, MAX_NAMES);
});
