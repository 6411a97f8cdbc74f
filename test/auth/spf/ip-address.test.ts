import test from 'ava';
import { isIP } from 'node:net';
import { formatIp, inPrefix, parseClientIp, parseIp4, parseIp6, reverseName } from '../../../src/auth/spf/ip-address.ts';
import { prng } from '../../support/prng.ts';

test('ip4-network: dotted quad of qnums, no leading zeros, no abbreviation (§5.6)', (t) => {
  t.deepEqual(parseIp4('192.0.2.255'), new Uint8Array([192, 0, 2, 255]));
  t.deepEqual(parseIp4('0.0.0.0'), new Uint8Array([0, 0, 0, 0]));
  for (const bad of ['1.2.3', '1.2.3.4.5', '01.2.3.4', '1.2.3.256', '1..2.3', '1.2.3.4.', '.1.2.3', ' 1.2.3.4', '1.2.3.a', '', '1.2.3.0004']) t.is(parseIp4(bad), undefined, bad);
});

test('IPv6 text forms of RFC 4291 §2.2', (t) => {
  const hex = (b: Uint8Array | undefined) => (b ? Buffer.from(b).toString('hex') : undefined);
  t.is(hex(parseIp6('2001:db8::cb01')), `20010db8${'0'.repeat(20)}cb01`);
  t.is(hex(parseIp6('::')), '0'.repeat(32));
  t.is(hex(parseIp6('::1')), `${'0'.repeat(31)}1`);
  t.is(hex(parseIp6('1::')), `0001${'0'.repeat(28)}`);
  t.is(hex(parseIp6('::ffff:1.2.3.4')), `${'0'.repeat(20)}ffff01020304`);
  t.is(hex(parseIp6('1:2:3:4:5:6:1.2.3.4')), '00010002000300040005000601020304');
  t.is(hex(parseIp6('CAFE:BABE::1')), `cafebabe${'0'.repeat(23)}1`);
  for (const bad of ['1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', '1::2::3', ':1::', '1::2:', '12345::', '::g', '1.2.3.4::', '::1.2.3', '1:2:3:4:5:6:7:1.2.3.4', 'fe80::1%eth0', ':', '', ':::', '1:2:3:4:5:6:7:8::']) {
    t.is(parseIp6(bad), undefined, bad);
  }
});

test('parseIp6 agrees with node:net on random and mutated addresses', (t) => {
  const rand = prng(7208);
  const alphabet = '0123456789abcdefABCDEF:.';
  let checked = 0;
  for (let i = 0; i < 5000; i++) {
    let s = '';
    const len = 1 + Math.floor(rand() * 30);
    for (let j = 0; j < len; j++) s += alphabet[Math.floor(rand() * alphabet.length)];
    // node accepts leading zeros in an embedded IPv4 part ("::01.2.3.4"); §5.6 qnum does not.
    if (/(^|[:.])0\d/.test(s.slice(s.lastIndexOf(':') + 1)) && s.includes('.')) continue;
    t.is(parseIp6(s) !== undefined, isIP(s) === 6, s);
    checked++;
  }
  t.true(checked > 4000);
});

test('client address: IPv4-mapped IPv6 is IPv4 (§5); other IPv6 stays IPv6; garbage is undefined', (t) => {
  t.deepEqual(parseClientIp('::FFFF:1.2.3.4'), { family: 4, bytes: new Uint8Array([1, 2, 3, 4]) });
  t.deepEqual(parseClientIp('::ffff:102:304'), { family: 4, bytes: new Uint8Array([1, 2, 3, 4]) });
  t.is(parseClientIp('::1.2.3.4')?.family, 6, 'IPv4-compatible (deprecated) is not mapped');
  t.is(parseClientIp('64:ff9b::1.2.3.4')?.family, 6);
  t.is(parseClientIp(' 192.0.2.1 ')?.family, 4);
  t.is(parseClientIp('unknown'), undefined);
  t.is(parseClientIp('[192.0.2.1]'), undefined);
});

test('prefix matching at every length, both families', (t) => {
  const a = parseIp6('2001:db8:ffff::1')!;
  const n = parseIp6('2001:db8:8000::')!;
  t.true(inPrefix(a, n, 0));
  t.true(inPrefix(a, n, 32));
  t.true(inPrefix(a, n, 33));
  t.false(inPrefix(a, n, 34));
  t.false(inPrefix(a, n, 128));
  const b = parseIp4('192.0.2.130')!;
  t.true(inPrefix(b, parseIp4('192.0.2.128')!, 25));
  t.false(inPrefix(b, parseIp4('192.0.2.0')!, 25));
  t.true(inPrefix(b, parseIp4('10.0.0.0')!, 0));
  t.false(inPrefix(b, a, 0), 'families never match each other');
});

test('reverse names and RFC 5952 text', (t) => {
  t.is(reverseName(parseClientIp('192.0.2.3')!), '3.2.0.192.in-addr.arpa');
  t.is(reverseName(parseClientIp('2001:db8::cb01')!), '1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa');
  t.is(formatIp(parseClientIp('2001:DB8:0:0:1:0:0:1')!), '2001:db8::1:0:0:1');
  t.is(formatIp(parseClientIp('::')!), '::');
  t.is(formatIp(parseClientIp('1::')!), '1::');
});
