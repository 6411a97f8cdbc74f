import test from 'ava';
import { claimedAuthservId, claimsAuthservId, parseAuthenticationResults, renderAuthenticationResults, renderValue, type AuthenticationResults } from '../../src/mail/auth-results.ts';

/** UTF-8 text as the latin1 octet string the milter hands over. */
const octets = (s: string) => Buffer.from(s, 'utf8').toString('latin1');

test('parses the RFC 8601 Appendix B examples', (t) => {
  const simple = parseAuthenticationResults(' example.com; spf=pass smtp.mailfrom=example.net');
  t.deepEqual(simple, { ok: true, header: { authservId: 'example.com', results: [{ method: 'spf', result: 'pass', properties: [{ ptype: 'smtp', property: 'mailfrom', value: 'example.net' }] }] } });

  const none = parseAuthenticationResults(' example.org 1; none');
  t.deepEqual(none, { ok: true, header: { authservId: 'example.org', version: 1, results: [] } });

  const many = parseAuthenticationResults(
    ' example.com;\r\n\t  auth=pass (cram-md5) smtp.auth=sender@example.net;\r\n\t  spf=pass smtp.mailfrom=example.net;\r\n\t  sender-id=pass header.from=example.net',
  );
  if (!many.ok) return t.fail(many.reason);
  t.deepEqual(
    many.header.results.map((r) => `${r.method}=${r.result}`),
    ['auth=pass', 'spf=pass', 'sender-id=pass'],
  );
  t.is(many.header.results[0]!.comment, 'cram-md5');
  t.deepEqual(many.header.results[0]!.properties, [{ ptype: 'smtp', property: 'auth', value: 'sender@example.net' }]);

  const reason = parseAuthenticationResults(' mail-router.example.net; dkim=pass (good signature) header.d=newyork.example.com header.b=oINEO8hg; dkim/1=fail reason="bad sig" header.i=@mail-router.example.net');
  if (!reason.ok) return t.fail(reason.reason);
  t.like(reason.header.results[1], { method: 'dkim', methodVersion: 1, result: 'fail', reason: 'bad sig' });
});

test('comments anywhere, a quoted authserv-id, UTF-8 values, values other verifiers leave unquoted', (t) => {
  const r = parseAuthenticationResults(octets(' (before) "mx.example.org" (after) ; (c) dkim (x) = (y) pass (z) header (a) . (b) d = exämple.org header.b=ab/cd+e= ; spf=none'));
  if (!r.ok) return t.fail(r.reason);
  t.is(r.header.authservId, 'mx.example.org');
  t.like(r.header.results[0], { method: 'dkim', result: 'pass', comment: 'z' });
  t.deepEqual(r.header.results[0]!.properties, [
    { ptype: 'header', property: 'd', value: 'exämple.org' },
    { ptype: 'header', property: 'b', value: 'ab/cd+e=' },
  ]);
});

const invalid = [
  '',
  ' example.com',
  ' example.com spf=pass',
  ' example.com; spf',
  ' example.com; spf=',
  ' example.com; spf=pass smtp',
  ' example.com; spf=pass smtp.mailfrom',
  ' example.com; spf=pass (unterminated',
  ' "unterminated; spf=pass',
  ' example.com; =pass',
  ' example.com; spf=pass; none',
  ' example.com; spf=-pass',
];
for (const v of invalid) {
  test(`not RFC 8601: ${JSON.stringify(v)}`, (t) => {
    t.false(parseAuthenticationResults(v).ok);
  });
}

test('authserv-id as a reader sees it: comments, trailing dot, U+00A0 and other odd white space, case, quotes', (t) => {
  const ours = 'mx.rcpt.test';
  const forged = [
    ' mx.rcpt.test; dkim=pass',
    ' MX.RCPT.TEST; dkim=pass',
    ' mx.rcpt.test.; dkim=pass',
    ' mx.rcpt.test..; dkim=pass',
    ' mx.rcpt.test;dkim=pass',
    ' (fake) mx.rcpt.test (x); dkim=pass',
    ' "mx.rcpt.test"; dkim=pass',
    octets(' mx.rcpt.test\u00a0; dkim=pass'),
    octets(' mx.rcpt.test\u00a0(comment); spf=pass'),
    octets('\u00a0mx.rcpt.test; dkim=pass'),
    octets(' mx.rcpt.test\u200b; dkim=pass'),
    octets(' mx.rcpt.test\u3000dkim=pass'),
    octets(' \ufeffmx.rcpt.test; dkim=pass'),
    octets(' mx.rcpt.test\u2028; dkim=pass'),
    octets(' ｍｘ.ｒｃｐｔ.ｔｅｓｔ; dkim=pass'), // fullwidth: NFKC folds it
    octets(' mx。rcpt。test; dkim=pass'),
    ' mx.rcpt.test\t1; dkim=pass',
    ' mx.rcpt.test\r\n\t; dkim=pass',
    ' mx.rcpt.test\x0b; dkim=pass',
    ' mx.rcpt.test',
  ];
  for (const v of forged) t.true(claimsAuthservId(v, ours), JSON.stringify(v));
  t.true(claimsAuthservId(' mx.rcpt.test; dkim=pass', 'MX.rcpt.test.'));
  const others = [' other.example; dkim=pass', ' mx.rcpt.test.evil.example; dkim=pass', ' xmx.rcpt.test; spf=pass', ' (mx.rcpt.test) other.example; spf=pass', ' ', ' ;', ' (unterminated mx.rcpt.test'];
  for (const v of others) t.false(claimsAuthservId(v, ours), JSON.stringify(v));
  t.is(claimedAuthservId(' (x) Example.COM.; none'), 'example.com');
});

test('render: one result per folded line, values quoted when they are not tokens or addresses', (t) => {
  const ar: AuthenticationResults = {
    authservId: 'mx.example.org',
    results: [
      {
        method: 'dkim',
        result: 'pass',
        comment: '2048-bit key',
        properties: [
          { ptype: 'header', property: 'd', value: 'example.com' },
          { ptype: 'header', property: 'i', value: '@example.com' },
          { ptype: 'header', property: 's', value: 'sel' },
          { ptype: 'header', property: 'a', value: 'rsa-sha256' },
          { ptype: 'header', property: 'b', value: 'ab/c+d=e' },
        ],
      },
      { method: 'spf', result: 'fail', reason: 'the "-all" matched', properties: [{ ptype: 'smtp', property: 'mailfrom', value: 'bounce+x=y@example.com' }] },
      { method: 'dmarc', result: 'fail', properties: [{ ptype: 'header', property: 'from', value: 'example.com' }, { ptype: 'policy', property: 'dmarc', value: 'reject' }] },
    ],
  };
  const v = renderAuthenticationResults(ar);
  t.is(
    v,
    [
      'mx.example.org;',
      '\tdkim=pass (2048-bit key) header.d=example.com header.i=@example.com',
      '\t  header.s=sel header.a=rsa-sha256 header.b="ab/c+d=e";',
      '\tspf=fail reason="the \\"-all\\" matched" smtp.mailfrom=bounce+x=y@example.com;',
      '\tdmarc=fail header.from=example.com policy.dmarc=reject',
    ].join('\n'),
  );
  // What we render we can read back, value for value.
  const back = parseAuthenticationResults(` ${v}`);
  if (!back.ok) return t.fail(back.reason);
  t.deepEqual(back.header, ar);
  t.is(renderAuthenticationResults({ authservId: 'mx.example.org', results: [] }), 'mx.example.org; none');
});

test('render: no byte from the network can end or fold the field', (t) => {
  const nasty = 'evil\r\nX-Injected: yes\n\tmore (paren) \\ "quote"';
  const v = renderAuthenticationResults({
    authservId: 'mx.example.org',
    results: [{ method: 'spf', result: 'permerror', comment: nasty, reason: nasty, properties: [{ ptype: 'smtp', property: 'mailfrom', value: nasty }] }],
  });
  // The only line breaks are our folds (LF + TAB).
  t.false(/\r|\n(?!\t)/.test(v), v);
  t.false(v.includes('\nX-Injected'));
  const back = parseAuthenticationResults(` ${v}`);
  t.true(back.ok, back.ok ? '' : back.reason);
  t.throws(() => renderAuthenticationResults({ authservId: 'x', results: [{ method: 'bad method', result: 'pass', properties: [] }] }), { instanceOf: RangeError });
});

test('render: UTF-8 values and ids come out as UTF-8 octets', (t) => {
  const v = renderAuthenticationResults({ authservId: 'mx.example.org', results: [{ method: 'spf', result: 'pass', properties: [{ ptype: 'smtp', property: 'mailfrom', value: 'jörg@example.org' }] }] });
  t.true(Buffer.from(v, 'latin1').toString('utf8').includes('smtp.mailfrom=jörg@example.org'));
  t.is(renderValue('a b'), '"a b"');
  t.is(renderValue('user@example.com'), 'user@example.com');
  t.is(renderValue('"x"@example.com'), '"\\"x\\"@example.com"');
});
