import test from 'ava';
import { authenticationResults } from '../../src/auth/authentication-results.ts';
import type { DmarcCheck, MessageAuthentication } from '../../src/auth/results.ts';
import { parseAuthenticationResults, renderAuthenticationResults } from '../../src/mail/auth-results.ts';

const record = { p: 'reject', adkim: 'r', aspf: 'r', psd: 'u', testing: false, rua: [], ruf: [], invalid: [] } as const;

const failing: DmarcCheck = {
  result: 'fail',
  fromDomain: 'example.com',
  policyDomain: 'example.com',
  record,
  requestedPolicy: 'reject',
  policy: 'reject',
  aligned: { spf: false, dkim: [] },
  reason: 'not authenticated by an aligned SPF or DKIM pass',
};

const auth: MessageAuthentication = {
  spf: { result: 'softfail', scope: 'mfrom', domain: 'bounce.example.net', identity: 'b@bounce.example.net', reason: '~all matched', lookups: 1, voidLookups: 0 },
  dkim: [
    { result: 'pass', domain: 'example.net', selector: 's1', algorithm: 'rsa-sha256', identity: '@example.net', signature: 'abcdefgh1234', keyBits: 2048, partialBody: false, testing: false, reason: 'signature verified' },
    { result: 'policy', domain: 'example.com', selector: 'old', algorithm: 'rsa-sha1', identity: '@example.com', signature: 'abcdefgh5678', keyBits: 1024, partialBody: false, testing: false, reason: 'rsa-sha1 is not acceptable (RFC 8301 §3.1)' },
  ],
  dkimSkipped: 2,
  arc: { result: 'none', instances: 0, sealers: [], hopResults: [], reason: 'message not sealed' },
  dmarc: failing,
  iprev: { result: 'permerror', ip: '2001:db8::25', names: [], reason: 'no PTR record (NXDOMAIN)' },
};

test('every check, in order, with its properties; header.b long enough to tell signatures apart', (t) => {
  const ar = authenticationResults('mx.example.org', auth);
  t.deepEqual(
    ar.results.map((r) => `${r.method}=${r.result}`),
    ['dkim=pass', 'dkim=policy', 'dkim=policy', 'spf=softfail', 'arc=none', 'dmarc=fail', 'iprev=permerror'],
  );
  const props = (i: number) => Object.fromEntries(ar.results[i]!.properties.map((p) => [`${p.ptype}.${p.property}`, p.value]));
  t.deepEqual(props(0), { 'header.d': 'example.net', 'header.i': '@example.net', 'header.s': 's1', 'header.a': 'rsa-sha256', 'header.b': 'abcdefgh1' });
  t.is(props(1)['header.b'], 'abcdefgh5');
  t.is(ar.results[0]!.comment, '2048-bit key');
  t.regex(ar.results[1]!.reason!, /rsa-sha1/);
  t.regex(ar.results[2]!.reason!, /2 DKIM signatures over the limit/);
  t.deepEqual(props(3), { 'smtp.mailfrom': 'b@bounce.example.net' });
  t.deepEqual(props(5), { 'header.from': 'example.com', 'policy.dmarc': 'reject' });
  t.is(ar.results[5]!.comment, 'p=reject');
  t.deepEqual(props(6), { 'policy.iprev': '2001:db8::25' });

  // The rendered header parses back to the same model.
  const text = renderAuthenticationResults(ar);
  const back = parseAuthenticationResults(` ${text}`);
  if (!back.ok) return t.fail(back.reason);
  t.deepEqual(back.header, ar);
});

test('unsigned: dkim=none; the null sender: smtp.helo; pass: no reason, no policy.dmarc', (t) => {
  const ar = authenticationResults('mx.example.org', {
    spf: { result: 'pass', scope: 'helo', domain: 'mx.example.com', identity: 'postmaster@mx.example.com', reason: 'ip4 matched', lookups: 1, voidLookups: 0 },
    dkim: [],
    dkimSkipped: 0,
    dmarc: { ...failing, result: 'pass', aligned: { spf: true, dkim: [] }, reason: 'aligned pass: SPF mx.example.com' },
  });
  t.like(ar.results[0], { method: 'dkim', result: 'none' });
  t.deepEqual(ar.results[1]!.properties, [{ ptype: 'smtp', property: 'helo', value: 'mx.example.com' }]);
  t.is(ar.results[2]!.reason, undefined);
  t.deepEqual(ar.results[2]!.properties, [{ ptype: 'header', property: 'from', value: 'example.com' }]);
});

test('no usable author: dmarc=permerror with the configured policy and no header.from', (t) => {
  const ar = authenticationResults('mx.example.org', {
    dkim: [],
    dkimSkipped: 0,
    dmarc: { result: 'permerror', policy: 'reject', authorProblem: 'syntax', aligned: { spf: false, dkim: [] }, reason: 'no usable author domain: From field: expected "," between addresses' },
  });
  const text = renderAuthenticationResults(ar);
  t.regex(text, /\tdmarc=permerror\n\t  reason="no usable author domain: From field: expected \\",\\" between addresses"\n\t  policy\.dmarc=reject$/);
  t.notRegex(text, /header\.from/);
  const back = parseAuthenticationResults(` ${text}`);
  t.true(back.ok && back.header.results[1]!.reason === 'no usable author domain: From field: expected "," between addresses');
});

test('multiple_from=strictest: one dmarc result per author domain', (t) => {
  const pass: DmarcCheck = { ...failing, fromDomain: 'example.org', result: 'pass', reason: 'aligned pass' };
  const ar = authenticationResults('mx.example.org', { dkim: [], dkimSkipped: 0, dmarc: { ...failing, authors: [pass, failing] } });
  const dmarc = ar.results.filter((r) => r.method === 'dmarc');
  t.deepEqual(
    dmarc.map((r) => [r.result, r.properties.find((p) => p.property === 'from')?.value]),
    [
      ['pass', 'example.org'],
      ['fail', 'example.com'],
    ],
  );
});

test('t=y and the policy domain appear in the comment', (t) => {
  const ar = authenticationResults('mx.example.org', {
    dkim: [],
    dkimSkipped: 0,
    dmarc: { ...failing, fromDomain: 'news.example.com', record: { ...record, sp: 'quarantine', testing: true }, policy: 'none', policySource: 'sp' },
  });
  t.like(ar.results[1], { comment: 'p=reject sp=quarantine t=y of example.com' });
});
