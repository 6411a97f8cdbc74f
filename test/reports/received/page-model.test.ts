/**
 * The page model, the explanations and the policy step on a generated month of reports:
 * classes (aligned, forwarded, failing unaligned/unauthenticated), dispositions, days,
 * reporter names normalised, numeric address order, honest "N of M listed", the rotated
 * selector explained from the keystore, a TLS failure at a TLSA change, the next step with
 * its evidence.
 */
import test from 'ava';
import { parseAggregate } from '../../../src/reports/read/aggregate-parser.ts';
import { classify, compareIp } from '../../../src/reports/received/classify.ts';
import { explain, propose, type History } from '../../../src/reports/received/explain.ts';
import { PageBuilder, type SenderIdentity } from '../../../src/reports/received/page-model.ts';
import { DAY, month, reportXml } from '../../support/dmarc-reports.ts';

const START = 1_790_812_800; // 2026-10-01
const ROTATE = 20;
const reports = month({ domain: 'example.test', start: START, days: 30, seed: 7, rotateOnDay: ROTATE, spoofers: 40 }).map((r) => parseAggregate(reportXml(r)));

function build(identities = new Map<string, SenderIdentity>(), maxSourcesListed = 2000) {
  const b = new PageBuilder();
  for (const r of reports) b.dmarc(r.header)(r.rows);
  b.tls({
    orgName: 'Google Inc.',
    reportId: 't1',
    begin: START + 24 * DAY,
    end: START + 25 * DAY - 1,
    policies: [{ policyType: 'tlsa', policyDomain: 'example.test', policyStrings: [], mxHosts: ['mx.example.test'], successfulSessions: 1200, failedSessions: 14, failures: [{ resultType: 'tlsa-invalid', receivingMxHostname: 'mx.example.test', sendingMtaIp: '209.85.220.41', failedSessions: 14 }] }],
  });
  return { builder: b, data: b.finish(identities, { maxSourcesListed }) };
}

test('classification: each message in exactly one class; the generated month\'s kinds land where they belong', (t) => {
  const { data } = build();
  const d = data.domains[0]!;
  const c = d.total;
  t.is(c.aligned + c.forwarded + c.failing, c.messages);
  t.is(c.unaligned + c.unauthenticated, c.failing);
  const rows = reports.flatMap((r) => r.rows);
  const sum = (pred: (ip: string) => boolean) => rows.filter((r) => pred(r.sourceIp)).reduce((n, r) => n + r.count, 0);
  // The CRM signs only as itself: every one of its messages is "failing, unaligned".
  t.is(c.unaligned, sum((ip) => ip === '192.0.2.77'));
  // Spoofers (198.51.x) and nothing else are unauthenticated … except the late mail signed with the rotated-out key.
  const late = rows.filter((r) => r.dkimAuth.some((a) => a.selector === 's2025' && a.result === 'fail') && r.reasons.length === 0).reduce((n, r) => n + r.count, 0);
  t.is(c.unauthenticated, sum((ip) => ip.startsWith('198.51.')) + late);
  // Forwarders (100.64.x): DKIM passed, SPF softfailed; the mailing list by the receiver's override.
  t.is(c.forwarded, sum((ip) => ip.startsWith('100.64.')));
  t.is(classify(rows.find((r) => r.sourceIp === '100.64.200.1')!).class, 'forwarded');
  t.is(d.days.length, 30);
  t.is(d.days.reduce((n, x) => n + x.counts.messages, 0), c.messages);
});

test('reporters normalised: "Fastmail Pty Ltd" and "FastMail Pty Ltd" are one reporter; addresses in numeric order; honest listing counts', (t) => {
  const { data } = build(new Map(), 10);
  const d = data.domains[0]!;
  const fm = d.reporters.filter((r) => /fastmail/i.test(r.name));
  t.is(fm.length, 1);
  t.deepEqual(fm[0]!.spellings, ['FastMail Pty Ltd', 'Fastmail Pty Ltd']);
  t.is(fm[0]!.reports, 60);
  t.true(d.sourceCount > 10);
  t.is(d.listedCount, 10);
  t.is(d.orgs.reduce((n, g) => n + g.listed.length, 0), 10);
  t.is(d.orgs.reduce((n, g) => n + g.sources, 0), d.sourceCount);
  t.deepEqual(['10.0.0.1', '9.255.0.1', '2001:db8::1', '192.0.2.1', '::1', '100.64.0.1'].sort(compareIp), ['9.255.0.1', '10.0.0.1', '100.64.0.1', '192.0.2.1', '::1', '2001:db8::1']);
});

test('grouped by the organisation of forward-confirmed PTR names; unconfirmed names are not believed', (t) => {
  const ids = new Map<string, SenderIdentity>([
    ['192.0.2.25', { status: 'confirmed', name: 'mx.example.test' }],
    ['203.0.113.10', { status: 'confirmed', name: 'o10.mta.esp.test' }],
    ['203.0.113.11', { status: 'confirmed', name: 'o11.mta.esp.test' }],
    ['192.0.2.77', { status: 'confirmed', name: 'mail.crm.co.uk' }],
    ['198.51.100.5', { status: 'unconfirmed', name: 'mail.google.com' }],
  ]);
  const d = build(ids).data.domains[0]!;
  const org = (ip: string) => d.orgs.find((g) => g.listed.some((s) => s.ip === ip))?.org;
  t.is(org('203.0.113.10'), 'esp.test');
  t.is(org('203.0.113.11'), 'esp.test');
  t.is(org('192.0.2.77'), 'crm.co.uk', 'the public suffix list knows co.uk');
  t.is(org('198.51.100.5'), 'PTR not forward-confirmed');
  t.is(org('198.51.100.6'), 'not looked up (beyond reports.page.ptr_lookups)');
  t.is(d.orgs.find((g) => g.org === 'esp.test')!.sources, 2);
});

const history: History = {
  keys: [
    { domain: 'example.test', selector: 's2025', state: 'retired', stateSince: (START + ROTATE * DAY) * 1000, createdAt: (START - 200 * DAY) * 1000 },
    { domain: 'example.test', selector: 's2026', state: 'active', stateSince: (START + ROTATE * DAY) * 1000, createdAt: (START + 10 * DAY) * 1000 },
  ],
  tlsa: [{ owner: '_25._tcp.mx.example.test', record: '3 1 1 bb', servedEverywhereSince: (START + 24 * DAY + 5 * 3600) * 1000 }],
  certs: [],
};

test('explanations: the rotated selector from the keystore, a TLS failure at the time a TLSA record changed', (t) => {
  const ex = explain(build().data, history);
  const rot = ex.find((e) => e.kind === 'dkim-retired-selector');
  t.truthy(rot, JSON.stringify(ex, null, 1));
  t.regex(rot!.text, /^Rotation: selector s2025 has been retired since 2026-10-21 00:00Z/);
  // The late mail after the rotation (days 20–22 of the generator), not the mailing list's changed messages before it.
  const late = reports.slice(ROTATE * 5).flatMap((r) => r.rows).filter((r) => r.dkimAuth.some((a) => a.selector === 's2025' && a.result === 'fail') && !r.reasons.length).reduce((n, r) => n + r.count, 0);
  t.true(late > 0);
  t.true(rot!.evidence.some((e) => e.startsWith(`${late} of them on or after 2026-10-21`)), rot!.evidence.join('\n'));
  const tls = ex.find((e) => e.kind === 'tls-tlsa-changed');
  t.truthy(tls);
  t.true(tls!.evidence.some((e) => /14 session\(s\) to mx\.example\.test failed with tlsa-invalid/.test(e)));
  t.true(tls!.evidence.some((e) => /TLSA _25\._tcp\.mx\.example\.test 3 1 1 bb served everywhere since 2026-10-25 05:00Z/.test(e)));
  // A revoked key, and a selector we never had.
  const revoked = explain(build().data, { ...history, keys: [{ ...history.keys![0]!, state: 'revoked' }] });
  t.true(revoked.some((e) => e.kind === 'dkim-revoked-selector' && e.severity === 'action'));
  const unknown = explain(build().data, { ...history, keys: [] });
  t.true(unknown.some((e) => e.kind === 'dkim-unknown-selector' && /Selector s2025 of example\.test is not in our keystore/.test(e.text)));
});

test('the next policy step, with its evidence', (t) => {
  const data = build(new Map([['192.0.2.77', { status: 'confirmed', name: 'mail.crm.test' }]])).data;
  const c = data.domains[0]!.total;
  const share = (100 * (c.aligned + c.forwarded)) / c.messages;
  const base = { rejectAt: 99.5, minMessages: 1000, minDays: 14, windowDays: 30 };
  const up = propose(data, { ...base, quarantineAt: Math.floor(share) })[0]!;
  t.is(up.step, 'raise-to-quarantine');
  t.is(up.current, 'p=none; sp=none');
  t.regex(up.text, new RegExp(`^p=none → quarantine: ${share.toFixed(1)} % of ${c.messages.toLocaleString('en-US')} messages passed DMARC over 30 day\\(s\\)`));
  t.regex(up.evidence[1]!, /^the failing sources are: 192\.0\.2\.77 \(mail\.crm\.test\): [\d,]+ failing, authenticates as crm\.test\/c1, crm\.test but not aligned — a forgotten sender\?/);
  t.is(propose(data, { ...base, quarantineAt: 99 })[0]!.step, 'hold');
  t.is(propose(data, { ...base, quarantineAt: 90, minDays: 31 })[0]!.step, 'not-enough-data');
});
