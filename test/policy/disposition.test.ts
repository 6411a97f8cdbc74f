/** The DMARC disposition table, row by row; every row names the rule it checks. */
import test from 'ava';
import type { ArcCheck, DmarcCheck, DmarcPolicy } from '../../src/auth/results.ts';
import { decideDisposition, type DispositionInput, type DispositionPolicy, type PolicyAction } from '../../src/policy/disposition.ts';
import { compileNetworks } from '../../src/policy/networks.ts';

const base: DispositionPolicy = { enforce: true, onTemperror: 'tempfail', overrides: [], trustedArcSealers: [] };
const dmarc = (over: Partial<DmarcCheck>): DmarcCheck => ({ result: 'fail', fromDomain: 'bank.example', policyDomain: 'bank.example', policy: 'reject', requestedPolicy: 'reject', aligned: { spf: false, dkim: [] }, reason: 'no aligned pass', ...over });
const input = (d: Partial<DmarcCheck>, more: Partial<DispositionInput> = {}): DispositionInput => ({ dmarc: dmarc(d), clientIp: '198.51.100.7', arc: undefined, ...more });
const arc = (sealer: string, result: ArcCheck['result'] = 'pass'): ArcCheck => ({ result, instances: 1, sealers: [sealer], hopResults: [], reason: '' });

const rows: Array<[string, DispositionInput, Partial<DispositionPolicy>, PolicyAction, DmarcPolicy]> = [
  ['pass delivers', input({ result: 'pass' }), {}, 'deliver', 'none'],
  ['no record delivers', input({ result: 'none', policy: 'none' }), {}, 'deliver', 'none'],
  ['unusable record delivers', input({ result: 'permerror' }), {}, 'deliver', 'none'],
  ['fail + p=reject rejects', input({}), {}, 'reject', 'reject'],
  ['fail + p=quarantine quarantines', input({ policy: 'quarantine' }), {}, 'quarantine', 'quarantine'],
  ['fail + p=none delivers', input({ policy: 'none' }), {}, 'deliver', 'none'],
  ['temperror tempfails by default', input({ result: 'temperror' }), {}, 'tempfail', 'none'],
  ['temperror accepted when configured', input({ result: 'temperror' }), { onTemperror: 'accept' }, 'deliver', 'none'],
  ['no author: the configured reject', input({ result: 'permerror', policy: 'reject', authorProblem: 'no-from-field', reason: 'no usable author domain: no From header field' }), {}, 'reject', 'reject'],
  ['no author: the configured quarantine', input({ result: 'permerror', policy: 'quarantine', authorProblem: 'syntax' }), {}, 'quarantine', 'quarantine'],
  ['no author: the configured none', input({ result: 'permerror', policy: 'none', authorProblem: 'syntax' }), {}, 'deliver', 'none'],
  ['no author in monitor mode is a label', input({ result: 'permerror', policy: 'reject', authorProblem: 'syntax' }), { enforce: false }, 'deliver', 'none'],
  ['several authors reject', input({ result: 'permerror', policy: 'reject', authorProblem: 'several-authors' }), {}, 'reject', 'reject'],
  ['monitor mode labels a reject', input({}), { enforce: false }, 'deliver', 'none'],
  ['monitor mode labels a temperror', input({ result: 'temperror' }), { enforce: false }, 'deliver', 'none'],
  // The round-1 bug: a quarantine override let p=quarantine failures through unquarantined.
  ['quarantine override keeps p=quarantine quarantined', input({ policy: 'quarantine' }), { overrides: [{ domains: ['bank.example'], networks: compileNetworks([]), action: 'quarantine', reason: 'mailing_list' }] }, 'quarantine', 'quarantine'],
  ['quarantine override lowers p=reject to quarantine', input({}), { overrides: [{ domains: [], networks: compileNetworks(['198.51.100.0/24']), action: 'quarantine', reason: 'trusted_forwarder' }] }, 'quarantine', 'quarantine'],
  ['none override delivers', input({}), { overrides: [{ domains: ['example'], networks: compileNetworks([]), action: 'none', reason: 'local_policy' }] }, 'deliver', 'none'],
  ['override for another network does not apply', input({}), { overrides: [{ domains: [], networks: compileNetworks(['192.0.2.0/24']), action: 'none', reason: 'local_policy' }] }, 'reject', 'reject'],
  ['trusted ARC sealer on a passing chain lowers the policy', input({}, { arc: arc('lists.example.net') }), { trustedArcSealers: [{ domain: 'example.net', action: 'none' }] }, 'deliver', 'none'],
  ['trusted ARC sealer on a failing chain does not', input({}, { arc: arc('lists.example.net', 'fail') }), { trustedArcSealers: [{ domain: 'example.net', action: 'none' }] }, 'reject', 'reject'],
  ['an untrusted sealer does not', input({}, { arc: arc('evil.example') }), { trustedArcSealers: [{ domain: 'example.net', action: 'none' }] }, 'reject', 'reject'],
];

for (const [name, i, p, action, reported] of rows) {
  test(name, (t) => {
    const d = decideDisposition(i, { ...base, ...p });
    t.is(d.action, action, d.reason);
    t.is(d.reported, reported);
    if (action === 'reject') t.is(d.reply?.code, 550);
    if (action === 'tempfail') t.is(d.reply?.code, 451);
    if (action === 'deliver' || action === 'quarantine') t.is(d.reply, undefined);
  });
}

test('an override is reported with its reason', (t) => {
  const d = decideDisposition(input({}), { ...base, overrides: [{ domains: [], networks: compileNetworks(['198.51.100.7']), action: 'none', reason: 'mailing_list', comment: 'lists.example.org' }] });
  t.deepEqual(d.override, { reason: 'mailing_list', comment: 'lists.example.org' });
});

test('several authors get their own reply, no author names why', (t) => {
  t.regex(decideDisposition(input({ result: 'permerror', policy: 'reject', authorProblem: 'several-authors' }), base).reply?.text ?? '', /several From authors/);
  t.regex(decideDisposition(input({ result: 'permerror', policy: 'reject', authorProblem: 'no-from-field', reason: 'no usable author domain: no From header field' }), base).reply?.text ?? '', /no usable From author domain \(no From header field\)/);
});

test('the reject reply names the policy domain', (t) => {
  const d = decideDisposition(input({ fromDomain: 'a.bank.example', policyDomain: 'bank.example' }), base);
  t.regex(d.reply?.text ?? '', /DMARC policy of bank\.example \(p=reject\)/);
});
