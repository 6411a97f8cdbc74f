import test from 'ava';
import { isSpfRecord, parseSpfRecord, type SpfMechanism, type SpfSyntaxErrorCode } from '../../../src/auth/spf/record.ts';

function parse(text: string) {
  const r = parseSpfRecord(text);
  if (!r.ok) throw new Error(`unexpected syntax error: ${r.error.message}`);
  return r.record;
}

function mechanism(text: string): SpfMechanism {
  const record = parse(`v=spf1 ${text}`);
  return record.directives[0]!.mechanism;
}

test('record selection: "v=spf1" then SP or the end, case-insensitive (§4.5)', (t) => {
  for (const yes of ['v=spf1', 'v=spf1 -all', 'V=SpF1 ~all', 'v=spf1   ']) t.true(isSpfRecord(yes), yes);
  for (const no of ['v=spf10', 'v=spf1mx', ' v=spf1 -all', 'v=spf2.0/pra', 'spf1', '', 'v=spf1\t-all']) t.false(isSpfRecord(no), no);
});

test('every mechanism with its arguments and defaults', (t) => {
  t.deepEqual(mechanism('all'), { kind: 'all' });
  t.like(mechanism('include:_spf.example.com'), { kind: 'include', domain: { literal: '_spf.example.com' } });
  t.deepEqual(mechanism('a'), { kind: 'a', cidr4: 32, cidr6: 128 });
  t.like(mechanism('a:mail.example.com/24//64'), { kind: 'a', domain: { literal: 'mail.example.com' }, cidr4: 24, cidr6: 64 });
  t.deepEqual(mechanism('mx//48'), { kind: 'mx', cidr4: 32, cidr6: 48 });
  t.deepEqual(mechanism('mx/0'), { kind: 'mx', cidr4: 0, cidr6: 128 });
  t.deepEqual(mechanism('ptr'), { kind: 'ptr' });
  t.like(mechanism('ptr:Example.COM'), { kind: 'ptr', domain: { literal: 'Example.COM' } });
  t.like(mechanism('exists:%{i}.bl.example.com'), { kind: 'exists' });
  t.deepEqual(mechanism('ip4:192.0.2.0/24'), { kind: 'ip4', network: new Uint8Array([192, 0, 2, 0]), prefix: 24 });
  t.deepEqual(mechanism('ip4:192.0.2.1'), { kind: 'ip4', network: new Uint8Array([192, 0, 2, 1]), prefix: 32 });
  const ip6 = mechanism('ip6:2001:db8::/32');
  t.is(ip6.kind, 'ip6');
  t.like(ip6, { prefix: 32 });
  t.like(mechanism('ip6:::ffff:192.0.2.1'), { kind: 'ip6', prefix: 128 });
});

test('qualifiers, case-insensitive names, term order, modifiers and DNS-term count', (t) => {
  const r = parse('v=spf1 +A -MX ~Include:x.example ?ptr  ip4:10.0.0.0/8 exists:%{d}.x.example REDIRECT=other.example EXP=exp.%{d} foo.bar-baz_1=%{l}');
  t.deepEqual(
    r.directives.map((d) => [d.qualifier, d.mechanism.kind, d.text]),
    [
      ['+', 'a', '+A'],
      ['-', 'mx', '-MX'],
      ['~', 'include', '~Include:x.example'],
      ['?', 'ptr', '?ptr'],
      ['+', 'ip4', 'ip4:10.0.0.0/8'],
      ['+', 'exists', 'exists:%{d}.x.example'],
    ],
  );
  t.is(r.redirect?.literal, 'other.example');
  t.is(r.explanation?.macro.text, 'exp.%{d}');
  t.is(r.explanation?.literal, undefined, 'a spec with macros has no fixed name');
  t.deepEqual(
    r.terms.filter((x) => x.type === 'modifier').map((m) => m.name),
    ['redirect', 'exp', 'foo.bar-baz_1'],
  );
  t.false(r.hasAll);
  t.is(r.lookupTerms, 6, 'a, mx, include, ptr, exists, redirect (§4.6.4)');
  t.true(parse('v=spf1 -all').hasAll);
  t.is(parse('v=spf1').directives.length, 0);
});

test('domain-spec: "%%", "%_", "%-" and a macro may end it; a literal end needs "." toplabel (§7.1)', (t) => {
  for (const ok of ['a:foo.example.com', 'a:foo.example.com.', 'a:%{d}', 'a:x%%', 'a:%{i}.%{d2}', 'a:.com', 'a:foo.example.xn--zckzah', 'a:foo:bar/baz.example.com', 'a:mail.example...com', 'exists:%{l}%_'])
    t.true(parseSpfRecord(`v=spf1 ${ok}`).ok, ok);
  const literal = mechanism('a:macro%%percent%_%_space%-url-space.example.com');
  t.like(literal, { domain: { literal: 'macro%percent  space%20url-space.example.com' } }, 'escapes are literal text, not macros');
});

const errors: [string, SpfSyntaxErrorCode][] = [
  // §4.5/§4.6.1 characters
  ['v=spf1 a:\u00efgarbage.example.net -all', 'invalid-character'],
  ['v=spf1 ip4:192.0.2.5\n include:x.example ~all', 'invalid-character'],
  ['v=spf1 a:ctrl.example.com\rptr -all', 'invalid-character'],
  ['v=spf1\t-all', 'invalid-character'],
  ['v=spf1 a:foo.example.com\0', 'invalid-character'],
  ['v=spf10 -all', 'not-spf1'],
  ['-all', 'not-spf1'],
  // mechanisms
  ['v=spf1 moo', 'unknown-mechanism'],
  ['v=spf1 -all.', 'unknown-mechanism'],
  ['v=spf1 redirect:x.example.com', 'unknown-mechanism'],
  ['v=spf1 1up=foo', 'unknown-mechanism'],
  ['v=spf1 =all', 'unknown-mechanism'],
  ['v=spf1 moo.cow/far_out=man:dog/cat', 'unknown-mechanism'],
  ['v=spf1 +redirect=x.example.com', 'unknown-mechanism'],
  ['v=spf1 -all:foobar', 'invalid-mechanism'],
  ['v=spf1 -all/8', 'invalid-mechanism'],
  ['v=spf1 include', 'invalid-mechanism'],
  ['v=spf1 exists', 'invalid-mechanism'],
  ['v=spf1 ptr/0', 'invalid-mechanism'],
  ['v=spf1 ip4', 'invalid-mechanism'],
  ['v=spf1 ip6', 'invalid-mechanism'],
  ['v=spf1 a/24/64', 'invalid-mechanism'],
  ['v=spf1 a:foo.example.com/24/64', 'invalid-cidr'],
  // domain-spec
  ['v=spf1 a:', 'invalid-domain-spec'],
  ['v=spf1 include:', 'invalid-domain-spec'],
  ['v=spf1 ptr:', 'invalid-domain-spec'],
  ['v=spf1 a:foo-bar', 'invalid-domain-spec'],
  ['v=spf1 a:museum', 'invalid-domain-spec'],
  ['v=spf1 a:museum.', 'invalid-domain-spec'],
  ['v=spf1 a:111.222.33.44', 'invalid-domain-spec'],
  ['v=spf1 a:abc.123', 'invalid-domain-spec'],
  ['v=spf1 a:example.-com', 'invalid-domain-spec'],
  ['v=spf1 a:example.com:8080', 'invalid-domain-spec'],
  ['v=spf1 include:ip5.example.com/24', 'invalid-domain-spec'],
  ['v=spf1 a:%{d}com', 'invalid-domain-spec'],
  ['v=spf1 redirect=-all', 'invalid-domain-spec'],
  ['v=spf1 redirect=', 'invalid-domain-spec'],
  ['v=spf1 exp=', 'invalid-domain-spec'],
  ['v=spf1 exp=-all', 'invalid-domain-spec'],
  // CIDR (§5.6): range, no leading zeros, no dual CIDR on ip4/ip6
  ['v=spf1 a/33', 'invalid-cidr'],
  ['v=spf1 a//129', 'invalid-cidr'],
  ['v=spf1 ip4:1.2.3.4/33', 'invalid-cidr'],
  ['v=spf1 ip4:1.2.3.4/032', 'invalid-cidr'],
  ['v=spf1 ip4:1.2.3.4//32', 'invalid-cidr'],
  ['v=spf1 ip6:::1.1.1.1/129', 'invalid-cidr'],
  ['v=spf1 ip6:::1.1.1.1//33', 'invalid-cidr'],
  ['v=spf1 mx/01', 'invalid-cidr'],
  // addresses
  ['v=spf1 ip4:1.2.3', 'invalid-ip'],
  ['v=spf1 ip4:1.2.3.4:8080', 'invalid-ip'],
  ['v=spf1 ip4:1.2.03.4', 'invalid-ip'],
  ['v=spf1 ip4:256.1.1.1', 'invalid-ip'],
  ['v=spf1 ip6::CAFE::BABE', 'invalid-ip'],
  ['v=spf1 ip6:1::2::3', 'invalid-ip'],
  ['v=spf1 ip6:fe80::1%eth0', 'invalid-ip'],
  ['v=spf1 ip6:1.2.3.4::', 'invalid-ip'],
  // macros
  ['v=spf1 exists:%(ir).sbl.example.com', 'invalid-macro'],
  ['v=spf1 exists:foo%.sbl.example.com', 'invalid-macro'],
  ['v=spf1 exists:%{x}.example.com', 'invalid-macro'],
  ['v=spf1 exists:%{d0}.example.com', 'invalid-macro'],
  ['v=spf1 exists:%{i', 'invalid-macro'],
  ['v=spf1 -all exp=%{r}.example.com', 'invalid-macro'],
  ['v=spf1 a:%{c}.example.com', 'invalid-macro'],
  ['v=spf1 a:%{t}.example.com', 'invalid-macro'],
  ['v=spf1 exists:%{l1r+-x}.example.com', 'invalid-macro'],
  ['v=spf1 foo=%abc', 'invalid-macro'],
  ['v=spf1 foo=%{z}', 'invalid-macro'],
  // modifiers (§6)
  ['v=spf1 redirect=a.example.com redirect=b.example.com', 'duplicate-modifier'],
  ['v=spf1 exp=a.example.com -all exp=b.example.com', 'duplicate-modifier'],
];

for (const [text, code] of errors) {
  test(`syntax error ${code}: ${JSON.stringify(text)}`, (t) => {
    const r = parseSpfRecord(text);
    t.false(r.ok);
    if (!r.ok) {
      t.is(r.error.code, code, r.error.message);
      t.true(r.error.message.length > 0);
    }
  });
}

test('a syntax error after the term that would match is still an error: the whole record is parsed (§4.6)', (t) => {
  const r = parseSpfRecord('v=spf1 ip4:1.2.3.4 -all moo');
  t.false(r.ok);
  if (!r.ok) t.like(r.error, { code: 'unknown-mechanism', term: 'moo', termIndex: 3 });
});

test('valid oddities of the grammar: unknown modifiers, repeated SP, trailing SP, exp letters in unknown modifiers', (t) => {
  for (const ok of [
    'v=spf1 moo.cow-far_out=man:dog/cat ip4:1.2.3.4 -all',
    'v=spf1 default=pass',
    'v=spf1 default=+',
    'v=spf1 ip4=1.2.3.4',
    'v=spf1 a  -all',
    'v=spf1 a -all ',
    'v=spf1 x-note=%{c}%{r}%{t}',
    'v=spf1 empty=',
    'v=spf1 all -all',
  ])
    t.true(parseSpfRecord(ok).ok, ok);
});
