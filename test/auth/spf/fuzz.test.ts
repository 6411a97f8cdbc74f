/**
 * Fuzzing the SPF parser, the macro expander and check_host() with mutated and garbage
 * records, macro strings and SMTP identities (seeded, bounded in count and time). Whatever
 * the input: no exception escapes, the result is one of the RFC 7208 results, and a record
 * with a syntax error is permerror — never pass.
 */
import test from 'ava';
import type { SpfResult } from '../../../src/auth/results.ts';
import { checkSpf } from '../../../src/auth/spf/check.ts';
import { dotFormat, formatIp, parseClientIp } from '../../../src/auth/spf/ip-address.ts';
import { expandMacroString, expandTail, parseMacroString, type MacroContext } from '../../../src/auth/spf/macro.ts';
import { isSpfRecord, parseSpfRecord } from '../../../src/auth/spf/record.ts';
import { fakeLookup } from '../../support/fake-dns.ts';
import { prng } from '../../support/prng.ts';
import { loadSpfSuite } from '../../support/spf-suite.ts';

const RESULTS = new Set<SpfResult>(['none', 'neutral', 'pass', 'fail', 'softfail', 'temperror', 'permerror']);
const TIME_LIMIT_MS = 8000;

const SEEDS = [
  'v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 a mx:mx.fuzz.test/24//64 include:inc.fuzz.test ~all',
  'v=spf1 exists:%{ir}.%{l1r-}.%{d2}.bl.fuzz.test -ptr:%{d} redirect=r.fuzz.test exp=exp.%{d}',
  'v=spf1 a:%{H}.fuzz.test/0//0 ?mx +all foo=%{s}%%%_%- bar.baz=',
  'v=spf1 -include:%{o}.inc.fuzz.test ip4:0.0.0.0/0 -all exp=%{p}.fuzz.test',
  ...loadSpfSuite().flatMap((s) =>
    Object.values(s.zone)
      .flatMap((n) => (Array.isArray(n.TXT) ? n.TXT : []))
      .map((r) => (typeof r === 'string' ? r : r.join('')))
      .filter((r) => r.startsWith('v=spf1')),
  ),
];

const FRAGMENTS = ['%', '%{', '}', '%{i}', '%{ir}', '%{d2}', '%{l1r-}', '%{S}', '%{p}', '%{c}', '%{t}', '%%', '%_', '%-', ':', '/', '//', '=', '.', '-', '+', '~', '?', ' ', '  ', 'all', 'a', 'mx', 'ptr', 'ip4:', 'ip6:', 'include:', 'exists:', 'redirect=', 'exp=', '0', '33', '129', '1.2.3.4', '::1', '::ffff:1.2.3.4', 'fuzz.test', '\t', '\r\n', '\0', '\u0096', 'é', '\uFFFD', 'v=spf1', 'V=SPF1 '];

function pick<T>(rand: () => number, list: readonly T[]): T {
  return list[Math.floor(rand() * list.length)]!;
}

function mutate(rand: () => number, text: string): string {
  // Mostly keep the version intact, so the mutations reach the terms and their evaluation.
  if (text.startsWith('v=spf1 ') && rand() < 0.8) return `v=spf1 ${mutateAnywhere(rand, text.slice(7))}`;
  return mutateAnywhere(rand, text);
}

function mutateAnywhere(rand: () => number, text: string): string {
  let s = text;
  const edits = 1 + Math.floor(rand() * 4);
  for (let i = 0; i < edits; i++) {
    const at = Math.floor(rand() * (s.length + 1));
    switch (Math.floor(rand() * 6)) {
      case 0:
        s = s.slice(0, at) + pick(rand, FRAGMENTS) + s.slice(at);
        break;
      case 1:
        s = s.slice(0, at) + s.slice(at + 1 + Math.floor(rand() * 6));
        break;
      case 2:
        s = s.slice(0, at) + String.fromCharCode(Math.floor(rand() * 0x80)) + s.slice(at + 1);
        break;
      case 3:
        s = s.slice(0, at);
        break;
      case 4: {
        const words = s.split(' ');
        const w = Math.floor(rand() * words.length);
        words.splice(w, 0, words[Math.floor(rand() * words.length)] ?? '');
        s = words.join(' ');
        break;
      }
      default:
        s = s.slice(0, at) + s.slice(at).toUpperCase();
    }
  }
  return s;
}

function garbage(rand: () => number): string {
  let s = rand() < 0.6 ? 'v=spf1 ' : '';
  const n = Math.floor(rand() * 12);
  for (let i = 0; i < n; i++) s += pick(rand, FRAGMENTS);
  return s;
}

test('parser and check_host(): mutated and garbage records never throw, syntax errors are permerror, never pass', async (t) => {
  const rand = prng(0x5bf1);
  const started = Date.now();
  let runs = 0;
  let syntaxErrors = 0;
  const seen = new Map<SpfResult, number>();
  while (runs < 10000 && Date.now() - started < TIME_LIMIT_MS) {
    runs++;
    const record = rand() < 0.75 ? mutate(rand, pick(rand, SEEDS)) : garbage(rand);
    const parsed = parseSpfRecord(record);
    if (!parsed.ok) t.true(parsed.error.message.length > 0);
    const dns = fakeLookup({
      'fuzz.test': { TXT: [record], A: ['192.0.2.1'], AAAA: ['2001:db8::1'], MX: [{ exchange: 'mx.fuzz.test', priority: 1 }] },
      'inc.fuzz.test': { TXT: [mutate(rand, pick(rand, SEEDS))] },
      'r.fuzz.test': { TXT: [rand() < 0.5 ? 'v=spf1 redirect=fuzz.test' : garbage(rand)] },
      'mx.fuzz.test': { A: ['192.0.2.2'], AAAA: ['2001:db8::2'] },
      'exp.fuzz.test': { TXT: [mutate(rand, 'denied: %{i} for %{s} at %{t} via %{r} %{p}')] },
      '1.2.0.192.in-addr.arpa': { PTR: ['mx.fuzz.test', 'fuzz.test'] },
    });
    const ip = pick(rand, ['192.0.2.1', '192.0.2.77', '2001:db8::1', '::ffff:192.0.2.2', '2001:db8::99']);
    let check;
    try {
      check = await checkSpf({ ip, mailFrom: pick(rand, ['user@fuzz.test', '', 'we.ird-user+x@FUZZ.test', '@fuzz.test']), helo: 'fuzz.test', receiver: 'rx.test' }, { dns, now: () => 1e12, limits: { lookups: 10, voidLookups: 2 } });
    } catch (err) {
      t.fail(`checkSpf threw on ${JSON.stringify(record)}: ${String(err)}`);
      continue;
    }
    t.true(RESULTS.has(check.result), check.result);
    t.true(check.reason.length > 0 && check.reason.length <= 400);
    seen.set(check.result, (seen.get(check.result) ?? 0) + 1);
    // The check of fuzz.test itself: the null sender checks HELO fuzz.test, the same record.
    if (isSpfRecord(record) && !parsed.ok) {
      syntaxErrors++;
      if (check.result !== 'permerror') t.fail(`${JSON.stringify(record)} has a syntax error (${parsed.error.message}) but gave ${check.result}`);
    }
    if (!isSpfRecord(record) && check.result !== 'none') t.fail(`${JSON.stringify(record)} is not an SPF record but gave ${check.result}`);
  }
  t.log(`${runs} records, ${syntaxErrors} with syntax errors, results ${JSON.stringify(Object.fromEntries(seen))}`);
  t.true(runs >= 200, 'enough runs in the time limit');
  t.true(syntaxErrors > runs / 10, 'the mutations reach the error paths');
  t.true((seen.get('pass') ?? 0) > 0 && (seen.get('permerror') ?? 0) > 0, 'and the evaluation paths');
});

test('macro strings: parsing and expanding random input never throws and stays bounded', (t) => {
  const rand = prng(0x7e3);
  const addr = parseClientIp('2001:db8::cb01')!;
  const values = {
    sender: 'strong-bad@email.example.com',
    local: 'strong-bad',
    senderDomain: 'email.example.com',
    domain: 'email.example.com',
    ipDots: dotFormat(addr),
    ipText: formatIp(addr),
    ipVersion: 'ip6',
    helo: 'JUMPIN’ JUPITER',
    receiver: 'rx.test',
    timestamp: '1',
    ptr: 'unknown',
  };
  const started = Date.now();
  let ok = 0;
  let runs = 0;
  for (; runs < 20000 && Date.now() - started < TIME_LIMIT_MS; runs++) {
    const n = Math.floor(rand() * 10);
    let s = '';
    for (let i = 0; i < n; i++) s += rand() < 0.5 ? pick(rand, FRAGMENTS) : String.fromCharCode(Math.floor(rand() * 0x100));
    const context = pick<MacroContext>(rand, ['domain', 'explain', 'modifier']);
    const parsed = parseMacroString(s, context);
    if (!parsed.ok) {
      t.true(parsed.reason.length > 0);
      continue;
    }
    ok++;
    const full = expandMacroString(parsed.macro, values, 1024);
    t.true(full.length <= 1024);
    t.true(expandTail(parsed.macro, values, 256).length <= 256);
  }
  t.log(`${runs} macro strings, ${ok} valid`);
  t.true(ok > 100);
});

test('SMTP identities: garbage MAIL FROM, HELO and client address never throw and never pass against "-all"', async (t) => {
  const rand = prng(0xbad);
  const dns = fakeLookup({ 'x.test': { TXT: ['v=spf1 exists:%{l}.%{h}.%{s}.%{ir}.x.test -all exp=e.x.test'] }, 'e.x.test': { TXT: ['%{L} %{S} %{H} %{C}'] } });
  const noise = () => {
    let s = '';
    const n = Math.floor(rand() * 40);
    for (let i = 0; i < n; i++) s += rand() < 0.3 ? pick(rand, ['@', '.', '<', '>', '"', '\\', ' ', 'x.test', ':']) : String.fromCharCode(Math.floor(rand() * 0x3000));
    return s;
  };
  for (let i = 0; i < 1000; i++) {
    const check = await checkSpf(
      { ip: rand() < 0.5 ? '192.0.2.9' : noise(), mailFrom: rand() < 0.5 ? `${noise()}@x.test` : noise(), helo: rand() < 0.5 ? 'x.test' : noise(), receiver: noise() },
      { dns, now: () => 0, limits: { lookups: 10, voidLookups: 2 } },
    );
    t.true(RESULTS.has(check.result));
    t.not(check.result, 'pass');
  }
});
