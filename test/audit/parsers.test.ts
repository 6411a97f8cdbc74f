/**
 * The audit's own parsers — MTA-STS record and policy (RFC 8461 §3.1, §3.2), MX pattern
 * matching (§4.1), TLS-RPT record (RFC 8460 §3) — table-driven, then fuzzed (seeded,
 * bounded): garbage never throws, and what parses satisfies the grammar's invariants.
 */
import test from 'ava';
import { MAX_AGE_LIMIT, mxMatches, parseStsPolicy, parseStsRecord } from '../../src/audit/mta-sts-policy.ts';
import { parseTlsRptRecord, isTlsRptRecord } from '../../src/audit/tls-rpt-record.ts';
import { prng } from '../support/prng.ts';

test('MTA-STS record: v=STSv1 first, id of 1–32 letters and digits, extensions allowed', (t) => {
  const ok: [string, string][] = [
    ['v=STSv1; id=20160831085700Z;', '20160831085700Z'],
    ['v=STSv1;id=abc', 'abc'],
    ['v=STSv1; id=a1;  ext-field.x=val!ue ', 'a1'],
    [`v=STSv1; id=${'a'.repeat(32)}`, 'a'.repeat(32)],
  ];
  for (const [text, id] of ok) {
    const p = parseStsRecord(text);
    t.true(p.ok, text);
    if (p.ok) t.is(p.id, id);
  }
  const bad: [string, RegExp][] = [
    ['v=STSv2; id=1', /does not start with v=STSv1/],
    ['V=STSv1; id=1', /does not start/],
    ['id=1; v=STSv1', /does not start/],
    ['v=STSv1', /no id/],
    ['v=STSv1; id=', /not name=value/],
    [`v=STSv1; id=${'a'.repeat(33)}`, /1 to 32/],
    ['v=STSv1; id=a-b', /1 to 32/],
    ['v=STSv1; id=1; id=2', /twice/],
    ['v=STSv1; id=1; junk', /not name=value/],
  ];
  for (const [text, re] of bad) {
    const p = parseStsRecord(text);
    t.false(p.ok, text);
    if (!p.ok) t.regex(p.reason, re, text);
  }
});

test('MTA-STS policy: required fields, limits, mx patterns, CRLF, first value wins with a warning', (t) => {
  const p = parseStsPolicy('version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\nmx: backupmx.example.com.\r\nmax_age: 604800\r\n');
  t.true(p.ok);
  if (p.ok) {
    t.deepEqual(p.policy, { version: 'STSv1', mode: 'enforce', maxAge: 604800, mx: ['mail.example.com', '*.example.net', 'backupmx.example.com'] });
    t.deepEqual(p.warnings, []);
  }
  const twice = parseStsPolicy('version: STSv1\nmode: testing\nmode: enforce\nmx: a.example\nmax_age: 1\nfoo: bar\n');
  t.true(twice.ok && twice.policy.mode === 'testing' && twice.warnings.length === 2);
  t.true(parseStsPolicy('version: STSv1\nmode: none\nmax_age: 0\n').ok, 'mode none needs no mx');
  const bad: [string, RegExp][] = [
    ['mode: enforce\nmx: a.example\nmax_age: 1\n', /no version/],
    ['version: STSv2\nmode: enforce\nmx: a.example\nmax_age: 1\n', /not STSv1/],
    ['version: STSv1\nmode: strict\nmx: a.example\nmax_age: 1\n', /not enforce, testing or none/],
    ['version: STSv1\nmode: enforce\nmx: a.example\n', /no max_age/],
    [`version: STSv1\nmode: enforce\nmx: a.example\nmax_age: ${MAX_AGE_LIMIT + 1}\n`, /above the limit/],
    ['version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 12345678901\n', /not a number/],
    ['version: STSv1\nmode: enforce\nmax_age: 86400\n', /without any mx/],
    ['version: STSv1\nmode: enforce\nmx: *.*.example\nmax_age: 1\n', /not a host name/],
    ['version: STSv1\nmode: enforce\nmx: example\nmax_age: 1\n', /not a host name/],
    ['<html>not a policy</html>\n', /not "key: value"/],
    ['x'.repeat(70_000), /larger than/],
  ];
  for (const [text, re] of bad) {
    const r = parseStsPolicy(text);
    t.false(r.ok, text.slice(0, 40));
    if (!r.ok) t.regex(r.reason, re, text.slice(0, 40));
  }
});

test('MX patterns (RFC 8461 §4.1): "*." matches exactly one label, case-insensitive, trailing dots ignored', (t) => {
  const cases: [string, string, boolean][] = [
    ['mail.example.com', 'mail.example.com', true],
    ['mail.example.com', 'MAIL.Example.COM.', true],
    ['*.example.com', 'mx1.example.com', true],
    ['*.example.com', 'example.com', false],
    ['*.example.com', 'a.b.example.com', false],
    ['*.example.com', 'xexample.com', false],
    ['mail.example.com', 'mx.example.com', false],
  ];
  for (const [p, h, want] of cases) t.is(mxMatches(p, h), want, `${p} ~ ${h}`);
});

test('TLS-RPT record: v=TLSRPTv1 then rua with mailto: and https: URIs', (t) => {
  t.deepEqual(parseTlsRptRecord('v=TLSRPTv1; rua=mailto:reports@example.com'), { ok: true, rua: ['mailto:reports@example.com'] });
  t.deepEqual(parseTlsRptRecord('v=TLSRPTv1;rua=mailto:a@example.com, https://reporting.example.com/v1/tlsrpt;x-ext=1'), { ok: true, rua: ['mailto:a@example.com', 'https://reporting.example.com/v1/tlsrpt'] });
  for (const [text, re] of [
    ['v=TLSRPTv1', /no rua/],
    ['v=TLSRPTv1; rua=', /neither mailto/],
    ['v=TLSRPTv1; rua=http://example.com/', /neither mailto/],
    ['v=TLSRPTv1; rua=mailto:nobody', /neither mailto/],
    ['v=TLSRPTv1; rua=mailto:a@b.example; rua=mailto:c@d.example', /twice/],
    ['v=tlsrptv1; rua=mailto:a@b.example', /does not start/],
  ] as const) {
    const r = parseTlsRptRecord(text);
    t.false(r.ok, text);
    if (!r.ok) t.regex(r.reason, re, text);
  }
  t.true(isTlsRptRecord('v=TLSRPTv1; rua=mailto:a@b.example'));
  t.false(isTlsRptRecord('v=TLSRPTv10; rua=mailto:a@b.example'));
});

function mutate(rand: () => number, seed: string): string {
  const alphabet = 'v=STSv1;id:mx.*-_ \t\r\nTLSRPTmailto@https://enforcetestingmax_age0123456789\x00\xff{}';
  let s = seed;
  const edits = 1 + Math.floor(rand() * 8);
  for (let i = 0; i < edits; i++) {
    const at = Math.floor(rand() * (s.length + 1));
    const op = rand();
    const ch = alphabet[Math.floor(rand() * alphabet.length)]!;
    if (op < 0.4) s = s.slice(0, at) + ch + s.slice(at);
    else if (op < 0.7) s = s.slice(0, at) + s.slice(at + 1);
    else s = s.slice(0, at) + ch + s.slice(at + 1);
  }
  return s;
}

test('fuzz: mutated records and policies never throw; what parses keeps the grammar invariants (seeded, bounded)', (t) => {
  const rand = prng(8461);
  const seeds = ['v=STSv1; id=20261201T000000;', 'version: STSv1\nmode: enforce\nmx: *.example.net\nmax_age: 604800\n', 'v=TLSRPTv1; rua=mailto:tlsrpt@example.org,https://r.example/x'];
  const deadline = Date.now() + 3000;
  let n = 0;
  for (; n < 30_000 && Date.now() < deadline; n++) {
    const input = mutate(rand, seeds[n % seeds.length]!);
    const rec = parseStsRecord(input);
    if (rec.ok) t.true(/^[A-Za-z0-9]{1,32}$/.test(rec.id) && input.startsWith('v=STSv1'), input);
    const pol = parseStsPolicy(input);
    if (pol.ok) {
      t.true(pol.policy.version === 'STSv1' && ['enforce', 'testing', 'none'].includes(pol.policy.mode) && pol.policy.maxAge >= 0 && pol.policy.maxAge <= MAX_AGE_LIMIT, JSON.stringify(input));
      t.true(pol.policy.mode === 'none' || pol.policy.mx.length > 0);
    }
    const rpt = parseTlsRptRecord(input);
    if (rpt.ok) t.true(rpt.rua.length > 0 && rpt.rua.every((u) => /^(mailto:|https:\/\/)/i.test(u)), input);
  }
  t.true(n >= 1000, `${n} inputs`);
});
