import test from 'ava';
import { decodeEncodedWord, parseAddressList, type AddressProblem } from '../../src/mail/address.ts';
import { authorsOf, hasSeveralAuthors } from '../../src/mail/author.ts';

/** A header value as the milter hands it over: UTF-8 octets as latin1 chars, leading space kept. */
const wire = (s: string) => ` ${Buffer.from(s, 'utf8').toString('latin1')}`;

// [From value, expected "local@domain" list]
const good: readonly (readonly [string, readonly string[]])[] = [
  ['alice@example.org', ['alice@example.org']],
  ['<alice@example.org>', ['alice@example.org']],
  ['Alice <alice@Example.ORG>', ['alice@example.org']],
  ['"alice@example.org via Group" <group@lists.example.net>', ['group@lists.example.net']],
  ['"Smith, John" <john@example.org>', ['john@example.org']],
  ['John Q. Public <jqp@example.org>', ['jqp@example.org']],
  ['alice@example.org (Alice (the (nested) one))', ['alice@example.org']],
  ['(comment first) <alice@example.org> (and after)', ['alice@example.org']],
  ['Alice <alice@example.org>, Bob <bob@example.net>', ['alice@example.org', 'bob@example.net']],
  ['a@example.org, , b@example.org,', ['a@example.org', 'b@example.org']],
  ['undisclosed-recipients:;', []],
  ['Team: a@example.org, b@example.org;', ['a@example.org', 'b@example.org']],
  ['Team: a@example.org', ['a@example.org']],
  ['<@relay.example,@other.example:alice@example.org>', ['alice@example.org']],
  ['"quoted local"@example.org', ['quoted local@example.org']],
  ['"a\\"b"@example.org', ['a"b@example.org']],
  ['first . last @ example . org', ['first.last@example.org']],
  ['alice@example.org.', ['alice@example.org']],
  ['=?UTF-8?B?YWxpY2VAZXhhbXBsZS5vcmc=?= <bob@example.net>', ['bob@example.net']],
  ['=?utf-8?Q?J=C3=B6rg?= <j@example.org>', ['j@example.org']],
  ['Jörg <jörg@bücher.example>', ['jörg@xn--bcher-kva.example']],
  // Python's idna codec gives xn--fsqu00a.xn--4rr70v for 例子.广告.
  ['用户@例子.广告', ['用户@xn--fsqu00a.xn--4rr70v']],
  ['alice@xn--bcher-kva.example', ['alice@xn--bcher-kva.example']],
  ['Alice\r\n\t<alice@example.org>', ['alice@example.org']],
  ['"=?utf-8?q?ceo@bank.example?=" <x@evil.example>', ['x@evil.example']],
];

for (const [value, expected] of good) {
  test(`parses ${JSON.stringify(value)}`, (t) => {
    const r = parseAddressList(wire(value));
    if (!r.ok) return t.fail(`${r.problem}: ${r.reason}`);
    t.deepEqual(
      r.mailboxes.map((m) => `${m.localPart}@${m.domain}`),
      expected,
    );
  });
}

// [From value, expected problem]
const bad: readonly (readonly [string, AddressProblem])[] = [
  ['<<<><ceo@bank.example>>>', 'syntax'],
  ['<ceo@bank.example>>', 'syntax'],
  ['<ceo@bank.example', 'syntax'],
  ['ceo@bank.example <x@evil.example>', 'syntax'],
  ['alice@example.org via Group <group@lists.example.net>', 'syntax'],
  ['"unterminated <ceo@bank.example>', 'syntax'],
  ['(unterminated <ceo@bank.example>', 'syntax'],
  ['ceo@bank.example)', 'syntax'],
  ['john smith@example.org', 'syntax'],
  ['a..b@example.org', 'syntax'],
  ['@example.org', 'syntax'],
  ['a@', 'syntax'],
  ['a@example..org', 'syntax'],
  ['Outer: Inner: a@example.org;;', 'syntax'],
  ['a@example.org;', 'syntax'],
  ['a@b@example.org', 'syntax'],
  ['a@exa\u0001mple.org', 'syntax'],
  ['John Smith', 'no-domain'],
  ['<>', 'no-domain'],
  ['Postmaster <>', 'no-domain'],
  ['example.org', 'no-domain'],
  ['user@[192.0.2.1]', 'domain-literal'],
  ['user@exa_mple!.org', 'invalid-domain'],
  [`user@${'a'.repeat(64)}.example`, 'invalid-domain'],
  [`user@${Array.from({ length: 60 }, () => 'abcd').join('.')}`, 'invalid-domain'],
  ['user@-bad.example', 'invalid-domain'],
  [Array.from({ length: 101 }, (_, i) => `u${i}@example.org`).join(', '), 'too-many'],
];

for (const [value, problem] of bad) {
  test(`refuses ${JSON.stringify(value.slice(0, 60))} (${problem})`, (t) => {
    const r = parseAddressList(wire(value));
    t.false(r.ok);
    if (!r.ok) t.is(r.problem, problem, r.reason);
  });
}

test('a domain with bytes that are not UTF-8 is invalid, a display name with them is not', (t) => {
  const latin1Domain = ' user@b\xfccher.example'; // ISO-8859-1 ü, not UTF-8
  const r = parseAddressList(latin1Domain);
  t.false(r.ok);
  if (!r.ok) t.is(r.problem, 'invalid-domain');
  const name = parseAddressList(' J\xf6rg <j@example.org>');
  t.true(name.ok);
  if (name.ok) t.is(name.mailboxes[0]!.domain, 'example.org');
});

test('display names: quoted, encoded words decoded, the space between adjacent encoded words dropped', (t) => {
  const cases: [string, string][] = [
    ['"alice@example.org via Group" <group@lists.example.net>', 'alice@example.org via Group'],
    ['=?utf-8?Q?J=C3=B6rg?= =?utf-8?Q?_M=C3=BCller?= <j@example.org>', 'Jörg Müller'],
    ['=?ISO-8859-1?Q?Andr=E9?= Pirard <pirard@example.org>', 'André Pirard'],
    ['John Q. Public <jqp@example.org>', 'John Q. Public'],
    ['=?x-unknown?Q?abc?= <a@example.org>', '=?x-unknown?Q?abc?='],
  ];
  for (const [value, name] of cases) {
    const r = parseAddressList(wire(value));
    if (!r.ok) return t.fail(r.reason);
    t.is(r.mailboxes[0]!.displayName, name);
  }
});

test('group members carry the group name', (t) => {
  const r = parseAddressList(' Team: a@example.org;, b@example.net');
  if (!r.ok) return t.fail(r.reason);
  t.is(r.mailboxes[0]!.group, 'Team');
  t.is(r.mailboxes[1]!.group, undefined);
});

test('decodeEncodedWord: B and Q, bad base64 and unknown charsets stay undecoded', (t) => {
  t.is(decodeEncodedWord('=?utf-8?B?w7w=?='), 'ü');
  t.is(decodeEncodedWord('=?utf-8?q?a_b=3Dc?='), 'a b=c');
  t.is(decodeEncodedWord('=?utf-8*en?q?hi?='), 'hi');
  t.is(decodeEncodedWord('=?utf-8?B?###?='), undefined);
  t.is(decodeEncodedWord('=?nope-charset?B?w7w=?='), undefined);
  t.is(decodeEncodedWord('plain'), undefined);
});

test('authorsOf: one author, several domains, several fields, none', (t) => {
  const one = authorsOf([{ name: 'From', value: wire('"alice@example.org via Group" <group@lists.example.net>') }]);
  t.true(one.ok);
  if (one.ok) t.deepEqual(one.domains, ['lists.example.net']);
  t.false(hasSeveralAuthors(one));

  const sameDomain = authorsOf([{ name: 'from', value: wire('a@example.org, b@EXAMPLE.org') }]);
  t.true(sameDomain.ok && sameDomain.domains.length === 1);
  t.false(hasSeveralAuthors(sameDomain));

  const two = authorsOf([{ name: 'From', value: wire('a@example.org, b@example.net') }]);
  t.true(hasSeveralAuthors(two));

  const fields = authorsOf([
    { name: 'From', value: wire('a@example.org') },
    { name: 'FROM', value: wire('a@example.org') },
  ]);
  t.true(fields.ok);
  t.true(hasSeveralAuthors(fields));
  if (fields.ok) t.is(fields.fields, 2);

  const none = authorsOf([{ name: 'Subject', value: ' hi' }]);
  t.deepEqual(none.ok ? undefined : none.problem, 'no-from-field');

  const empty = authorsOf([{ name: 'From', value: ' undisclosed-recipients:;' }]);
  t.deepEqual(empty.ok ? undefined : empty.problem, 'no-mailbox');

  const garbage = authorsOf([{ name: 'From', value: ' <<<><ceo@bank.example>>>' }]);
  t.deepEqual(garbage.ok ? undefined : garbage.problem, 'syntax');

  const secondBad = authorsOf([
    { name: 'From', value: ' a@example.org' },
    { name: 'From', value: ' <<<>' },
  ]);
  t.false(secondBad.ok);
  if (!secondBad.ok) t.regex(secondBad.reason, /From field 2 of 2/);
});
