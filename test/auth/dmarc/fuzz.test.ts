/**
 * Fuzzing DMARC's inputs: mutated policy records and mutated From fields. No exception
 * escapes, and a message whose only passing identifier is someone else's domain never gets
 * dmarc=pass — the verdict is a definite fail, none or permerror (with the configured policy
 * when there is no usable author).
 */
import test from 'ava';
import { DmarcDiscovery } from '../../../src/auth/dmarc/discovery.ts';
import { parseDmarcRecord } from '../../../src/auth/dmarc/record.ts';
import type { DkimSignatureCheck, SpfCheck } from '../../../src/auth/results.ts';
import { authorsOf } from '../../../src/mail/author.ts';
import { fakeLookup } from '../../support/fake-dns.ts';
import { mutator } from '../../support/mutate.ts';
import { prng } from '../../support/prng.ts';

const ROUNDS = 2000;
const TIME_LIMIT_MS = 10_000;

const recordSeeds = [
  'v=DMARC1; p=reject; sp=quarantine; np=none; adkim=s; aspf=s; psd=n; t=y; rua=mailto:a@bank.example,mailto:b@bank.example!10m; ruf=mailto:f@bank.example; fo=1:d:s',
  'v=DMARC1; p=none',
  'v=DMARC1;p=quarantine;pct=50;rf=afrf;ri=86400',
  'v=DMARC1; p=reject; psd=y',
  'v = DMARC1 ; p = reject ; rua = mailto:x@bank.example',
];

const unaligned: DkimSignatureCheck = { result: 'pass', domain: 'evil.example', selector: 's', partialBody: false, testing: false, reason: 'verified' };
const spfFail: SpfCheck = { result: 'fail', scope: 'mfrom', domain: 'evil.example', identity: 'x@evil.example', reason: '-all', lookups: 1, voidLookups: 0 };
const options = { noAuthorPolicy: 'reject', multipleFrom: 'reject' } as const;

test('record parser: no exception; a record or not-a-record; values always in their sets', (t) => {
  const next = mutator(recordSeeds, prng(9989), { alphabet: ';=:,!vDMARCprejctnoyus \t\x00\x80"\\' });
  const started = Date.now();
  let records = 0;
  let rounds = 0;
  for (; rounds < ROUNDS * 2 && Date.now() - started < TIME_LIMIT_MS; rounds++) {
    const input = next();
    let r;
    try {
      r = parseDmarcRecord(input);
    } catch (err) {
      return t.fail(`threw on ${JSON.stringify(input)}: ${String(err)}`);
    }
    if (!r) continue;
    records++;
    const policies = [undefined, 'none', 'quarantine', 'reject'];
    if (!policies.includes(r.p) || !policies.includes(r.sp) || !policies.includes(r.np)) return t.fail(JSON.stringify(input));
    if (!['r', 's'].includes(r.adkim) || !['r', 's'].includes(r.aspf) || !['y', 'n', 'u'].includes(r.psd)) return t.fail(JSON.stringify(input));
  }
  t.log(`${rounds} inputs, ${records} DMARC records`);
  t.true(records > 0 && records < rounds);
});

test('a mutated record never turns someone else\'s DKIM pass into dmarc=pass', async (t) => {
  const next = mutator(recordSeeds, prng(7489), { alphabet: ';=:,!vDMARCprejctnoyus \t' });
  const started = Date.now();
  const seen = new Set<string>();
  for (let i = 0; i < ROUNDS && Date.now() - started < TIME_LIMIT_MS; i++) {
    const record = next();
    const dns = fakeLookup({ '_dmarc.bank.example': { TXT: [record] }, 'bank.example': { A: ['192.0.2.1'] } });
    const c = await new DmarcDiscovery(dns).check({ authors: authorsOf([{ name: 'From', value: ' ceo@bank.example' }]), spf: spfFail, dkim: [unaligned] }, options);
    seen.add(c.result);
    if (!['fail', 'none', 'permerror'].includes(c.result)) return t.fail(`${c.result} for record ${JSON.stringify(record)}: ${c.reason}`);
  }
  t.log([...seen].join(', '));
  t.true(seen.has('fail') && seen.has('none'));
});

const fromSeeds = [
  ' ceo@bank.example',
  ' "CEO" <ceo@bank.example>',
  ' <<<><ceo@bank.example>>>',
  ' "ceo@bank.example via Group" <group@lists.bank.example>',
  ' Bank (the (real) one) <ceo@bank.example>, <board@bank.example>',
  ' Board: ceo@bank.example;',
  ' =?UTF-8?B?Y2VvQGJhbmsuZXhhbXBsZQ==?= <ceo@bank.example>',
];

test('a mutated From never gets dmarc=pass from an unaligned identifier; no usable author → permerror + reject', async (t) => {
  const next = mutator(fromSeeds, prng(5321));
  const dns = fakeLookup({ '_dmarc.bank.example': { TXT: ['v=DMARC1; p=reject'] }, 'bank.example': { A: ['192.0.2.1'] } });
  const started = Date.now();
  const seen = new Map<string, number>();
  for (let i = 0; i < ROUNDS && Date.now() - started < TIME_LIMIT_MS; i++) {
    const from = next();
    let c;
    try {
      c = await new DmarcDiscovery(dns).check({ authors: authorsOf([{ name: 'From', value: from }]), spf: spfFail, dkim: [unaligned] }, options);
    } catch (err) {
      return t.fail(`threw on ${JSON.stringify(from)}: ${String(err)}`);
    }
    seen.set(c.result, (seen.get(c.result) ?? 0) + 1);
    if (c.result === 'pass' || c.result === 'temperror') return t.fail(`${c.result} for From ${JSON.stringify(from)}: ${c.reason}`);
    if (c.result === 'permerror' && c.policy !== 'reject') return t.fail(`permerror without the configured policy for ${JSON.stringify(from)}`);
  }
  t.log(JSON.stringify(Object.fromEntries(seen)));
  t.true((seen.get('fail') ?? 0) > 0 && (seen.get('permerror') ?? 0) > 0);
});
