import test from 'ava';
import { dotFormat, formatIp, parseClientIp } from '../../../src/auth/spf/ip-address.ts';
import { expandMacroString, expandTail, parseMacroString, urlEscape, type MacroContext, type MacroValues } from '../../../src/auth/spf/macro.ts';

function values(ip: string, overrides: Partial<MacroValues> = {}): MacroValues {
  const addr = parseClientIp(ip)!;
  return {
    sender: 'strong-bad@email.example.com',
    local: 'strong-bad',
    senderDomain: 'email.example.com',
    domain: 'email.example.com',
    ipDots: dotFormat(addr),
    ipText: formatIp(addr),
    ipVersion: addr.family === 4 ? 'in-addr' : 'ip6',
    helo: 'mx.example.org',
    receiver: 'mail.receiver.example',
    timestamp: '1767225600',
    ptr: 'mx.example.org',
    ...overrides,
  };
}

function expand(text: string, v: MacroValues, context: MacroContext = 'domain'): string {
  const p = parseMacroString(text, context);
  if (!p.ok) throw new Error(p.reason);
  return expandMacroString(p.macro, v);
}

// RFC 7208 §7.4: sender strong-bad@email.example.com, client 192.0.2.3 / 2001:db8::cb01, PTR name mx.example.org.
const RFC_EXAMPLES: [string, string][] = [
  ['%{s}', 'strong-bad@email.example.com'],
  ['%{o}', 'email.example.com'],
  ['%{d}', 'email.example.com'],
  ['%{d4}', 'email.example.com'],
  ['%{d3}', 'email.example.com'],
  ['%{d2}', 'example.com'],
  ['%{d1}', 'com'],
  ['%{dr}', 'com.example.email'],
  ['%{d2r}', 'example.email'],
  ['%{l}', 'strong-bad'],
  ['%{l-}', 'strong.bad'],
  ['%{lr}', 'strong-bad'],
  ['%{lr-}', 'bad.strong'],
  ['%{l1r-}', 'strong'],
  ['%{ir}.%{v}._spf.%{d2}', '3.2.0.192.in-addr._spf.example.com'],
  ['%{lr-}.lp._spf.%{d2}', 'bad.strong.lp._spf.example.com'],
  ['%{lr-}.lp.%{ir}.%{v}._spf.%{d2}', 'bad.strong.lp.3.2.0.192.in-addr._spf.example.com'],
  ['%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}', '3.2.0.192.in-addr.strong.lp._spf.example.com'],
  ['%{d2}.trusted-domains.example.net', 'example.com.trusted-domains.example.net'],
];

for (const [macro, expected] of RFC_EXAMPLES) {
  test(`RFC 7208 §7.4 example ${macro}`, (t) => {
    t.is(expand(macro, values('192.0.2.3')), expected);
  });
}

test('RFC 7208 §7.4 IPv6 example: %{ir}.%{v}._spf.%{d2}', (t) => {
  t.is(expand('%{ir}.%{v}._spf.%{d2}', values('2001:db8::cb01')), '1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com');
});

test('%{c} is dotted quad for IPv4 and RFC 5952 text for IPv6; %{i} of IPv4-mapped IPv6 is the IPv4 address (§5, §7.3)', (t) => {
  t.is(expand('%{c} %{i} %{v}', values('192.0.2.3'), 'explain'), '192.0.2.3 192.0.2.3 in-addr');
  t.is(expand('%{c}', values('2001:0DB8:0000:0000:0000:0000:0000:CB01'), 'explain'), '2001:db8::cb01');
  t.is(expand('%{c} %{v}', values('::ffff:192.0.2.3'), 'explain'), '192.0.2.3 in-addr');
  t.is(expand('%{c}', values('2001:db8:0:1:0:0:0:1'), 'explain'), '2001:db8:0:1::1', 'longest zero run compressed');
  t.is(expand('%{c}', values('2001:0:0:1:0:0:1:1'), 'explain'), '2001::1:0:0:1:1', 'first of two equal runs');
  t.is(expand('%{c}', values('2001:db8:1:1:1:1:0:1'), 'explain'), '2001:db8:1:1:1:1:0:1', 'a single zero group is not compressed');
});

test('exp-only letters c, r, t expand in explanations; %{h}, %{p} too', (t) => {
  t.is(expand('%{r} at %{t} from %{h} (%{p})', values('192.0.2.3'), 'explain'), 'mail.receiver.example at 1767225600 from mx.example.org (mx.example.org)');
});

test('upper-case letters are URL-escaped after expansion; unreserved characters are kept (§7.3, RFC 3986)', (t) => {
  const v = values('192.0.2.3', { local: '~jack&jill=up-a_b3.c', sender: '~jack&jill=up-a_b3.c@e8.example.com' });
  t.is(expand('%{L}', v), '~jack%26jill%3Dup-a_b3.c');
  t.is(expand('%{S}', v), '~jack%26jill%3Dup-a_b3.c%40e8.example.com');
  t.is(expand('%{D2R}', v), 'example.email');
  t.is(urlEscape('a b/é'), 'a%20b%2F%C3%A9', 'octets of UTF-8');
});

test('%%, %_ and %- (§7.1); "r" and letters are case-insensitive; several delimiters; digits past the part count', (t) => {
  const v = values('192.0.2.3', { local: 'foo-bar+zip+quux' });
  t.is(expand('a%%b%_c%-d', v), 'a%b c%20d');
  t.is(expand('%{l2r+-}', v), 'bar.foo');
  t.is(expand('%{l2R+-}', v), 'bar.foo');
  t.is(expand('%{d99}', v), 'email.example.com');
  t.is(expand('%{d0000000000000000002}', v), 'example.com', 'leading zeros in the count are digits like any other');
  t.is(expand('%{d2.}', v), 'example.com', 'an explicit "." is the default delimiter');
  t.is(expand('%{l=}', values('192.0.2.3', { local: 'a=b' })), 'a.b');
  t.is(expand('%{l.}', values('192.0.2.3', { local: 'a..b.' })), 'a..b.', 'empty parts are kept (§7.3)');
});

test('parse errors: a lone %, unknown letters, a zero count, bad transformers, SP outside explanations', (t) => {
  for (const bad of ['%', 'a%b', '%{', '%{}', '%{x}', '%{d0}', '%{d00}', '%{dx}', '%{d2rr}', '%{i;}', 'a b', '%{ir-.+,/_=q}']) {
    t.false(parseMacroString(bad, 'domain').ok, bad);
  }
  t.true(parseMacroString('a b %{c}', 'explain').ok);
  t.false(parseMacroString('%{c}', 'domain').ok, 'exp-only letter in a domain-spec');
  t.true(parseMacroString('%{c}', 'modifier').ok, 'an unknown modifier is never expanded; macro syntax is all that is checked');
  t.false(parseMacroString('tab\there', 'explain').ok);
});

test('expandTail keeps the right-hand end only, without expanding what truncation would drop', (t) => {
  const p = parseMacroString('%{s}.%{s}.%{s}.tail.example', 'domain');
  if (!p.ok) throw new Error(p.reason);
  const full = expandMacroString(p.macro, values('192.0.2.3'));
  t.is(expandTail(p.macro, values('192.0.2.3'), 40), full.slice(full.length - 40));
  t.is(expandTail(p.macro, values('192.0.2.3'), 1000), full);
});
