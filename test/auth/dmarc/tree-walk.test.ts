import test from 'ava';
import { parseDmarcRecord } from '../../../src/auth/dmarc/record.ts';
import { discoverPolicy, organizationalDomain, requestedPolicy, testingPolicy, usablePolicy, walkTargets, type DmarcLookup, type TreeWalk } from '../../../src/auth/dmarc/tree-walk.ts';

test('walkTargets: one label less each time; from 8 labels on, a jump to the last 7 (RFC 9989 §4.10)', (t) => {
  t.deepEqual(walkTargets('a.mail.example.com'), ['a.mail.example.com', 'mail.example.com', 'example.com', 'com']);
  t.deepEqual(walkTargets('com'), ['com']);
  // The RFC's own example: eight queries for a 13-label name.
  t.deepEqual(walkTargets('a.b.c.d.e.f.g.h.i.j.mail.example.com'), [
    'a.b.c.d.e.f.g.h.i.j.mail.example.com',
    'g.h.i.j.mail.example.com',
    'h.i.j.mail.example.com',
    'i.j.mail.example.com',
    'j.mail.example.com',
    'mail.example.com',
    'example.com',
    'com',
  ]);
  // Exactly 8 labels: the next target is the parent (7 labels), 8 queries in all.
  t.is(walkTargets('a.b.c.d.e.f.g.h').length, 8);
  t.is(walkTargets('a.b.c.d.e.f.g.h')[1], 'b.c.d.e.f.g.h');
  for (let n = 1; n <= 40; n++) t.true(walkTargets(Array.from({ length: n }, (_, i) => `l${i}`).join('.')).length <= 8);
});

const rec = (text: string): DmarcLookup => ({ kind: 'record', record: parseDmarcRecord(text)! });
const none: DmarcLookup = { kind: 'none', detail: 'nxdomain' };
const servfail: DmarcLookup = { kind: 'error', code: 'SERVFAIL', message: 'x' };

/** A walk from `start` where `records` maps names to lookups; the rest NXDOMAIN; cut where it stops. */
function walk(start: string, records: Record<string, DmarcLookup>): TreeWalk {
  const steps = [];
  for (const d of walkTargets(start)) {
    const lookup = records[d] ?? none;
    steps.push({ domain: d, lookup });
    if (lookup.kind === 'record' && lookup.record.psd !== 'u') break;
  }
  return { start, steps };
}

const org = (w: TreeWalk) => {
  const o = organizationalDomain(w);
  return o.known ? o.domain : 'unknown';
};

test('organizational domain: the record with the fewest labels (RFC 9989 §4.10.2 and B.4.1)', (t) => {
  t.is(org(walk('a.mail.example.com', { 'mail.example.com': rec('v=DMARC1; p=none'), 'example.com': rec('v=DMARC1; p=reject') })), 'example.com');
  t.is(org(walk('signing.example.com', { 'signing.example.com': rec('v=DMARC1; p=none'), 'example.com': rec('v=DMARC1; p=none') })), 'example.com');
});

test('organizational domain: psd=n is it; psd=y makes the name below it (§4.10.2 examples, B.4.3)', (t) => {
  t.is(org(walk('a.mail.example.com', { 'mail.example.com': rec('v=DMARC1; p=none; psd=n'), 'example.com': rec('v=DMARC1; p=reject') })), 'mail.example.com');
  t.is(org(walk('a.mail.example.com', { com: rec('v=DMARC1; p=reject; psd=y') })), 'example.com');
  const bank = { 'giant.bank.example': rec('v=DMARC1; p=reject'), 'bank.example': rec('v=DMARC1; p=reject; psd=y') };
  t.is(org(walk('giant.bank.example', bank)), 'giant.bank.example');
  t.is(org(walk('mail.giant.bank.example', bank)), 'giant.bank.example');
  t.is(org(walk('mail.mega.bank.example', bank)), 'mega.bank.example');
});

test('organizational domain: psd=y at the start is not used for the start; no record at all → the start', (t) => {
  t.is(org(walk('gov.example', { 'gov.example': rec('v=DMARC1; p=reject; psd=y') })), 'gov.example');
  t.is(org(walk('a.b.example', {})), 'a.b.example');
});

test('organizational domain: a failed lookup before the walk stopped leaves it unknown; after the stop it does not matter', (t) => {
  t.is(org(walk('a.example.com', { 'example.com': rec('v=DMARC1; p=none'), com: servfail })), 'unknown');
  t.is(org(walk('a.example.com', { 'a.example.com': servfail, 'example.com': rec('v=DMARC1; p=none') })), 'unknown');
  // psd=n at example.com stops the walk: _dmarc.com is never part of it.
  const w = walk('a.example.com', { 'example.com': rec('v=DMARC1; p=none; psd=n') });
  t.is(org({ start: w.start, steps: [...w.steps, { domain: 'com', lookup: servfail }] }), 'example.com');
});

test('policy discovery: the author domain, its organizational domain, its PSD (§4.10.1)', (t) => {
  const own = discoverPolicy(walk('mail.example.com', { 'mail.example.com': rec('v=DMARC1; p=quarantine'), 'example.com': rec('v=DMARC1; p=reject') }), true);
  t.like(own, { kind: 'record', policyDomain: 'mail.example.com', source: 'p' });

  const org = discoverPolicy(walk('a.b.c.d.e.f.g.h.i.j.k.example.com', { 'example.com': rec('v=DMARC1; p=reject') }), true);
  t.like(org, { kind: 'record', policyDomain: 'example.com', source: 'sp' });

  const psd = discoverPolicy(walk('giant.bank.example', { 'bank.example': rec('v=DMARC1; p=reject; psd=y') }), true);
  t.like(psd, { kind: 'record', policyDomain: 'bank.example', source: 'sp' });

  t.like(discoverPolicy(walk('x.example', {}), true), { kind: 'none' });
});

test('policy discovery: np for a non-existent author domain; existence is only asked when the record has np', (t) => {
  const w = walk('nope.example.com', { 'example.com': rec('v=DMARC1; p=none; np=reject') });
  t.like(discoverPolicy(w, false), { kind: 'record', source: 'np' });
  t.like(discoverPolicy(w, true), { kind: 'record', source: 'sp' });
  t.like(discoverPolicy(w, 'unknown'), { kind: 'unknown' });
  t.like(discoverPolicy(walk('nope.example.com', { 'example.com': rec('v=DMARC1; p=reject') }), undefined), { kind: 'record', source: 'sp' });
});

test('policy discovery: a failed record lookup is unknown, a failure above the author record is not', (t) => {
  t.like(discoverPolicy(walk('example.com', { 'example.com': servfail }), true), { kind: 'unknown' });
  t.like(discoverPolicy(walk('a.example.com', { 'example.com': servfail }), true), { kind: 'unknown' });
  t.like(discoverPolicy(walk('example.com', { 'example.com': rec('v=DMARC1; p=reject'), com: servfail }), true), { kind: 'record', policyDomain: 'example.com' });
});

test('requested policy: p, sp → p, np → sp → p', (t) => {
  const r = parseDmarcRecord('v=DMARC1; p=reject; sp=quarantine')!;
  t.is(requestedPolicy(r, 'p'), 'reject');
  t.is(requestedPolicy(r, 'sp'), 'quarantine');
  t.is(requestedPolicy(r, 'np'), 'quarantine');
  const np = parseDmarcRecord('v=DMARC1; p=none; np=reject')!;
  t.is(requestedPolicy(np, 'sp'), 'none');
  t.is(requestedPolicy(np, 'np'), 'reject');
});

test('usable policy: an invalid p/sp/np is p=none with a valid rua, else unusable (§4.10.1)', (t) => {
  t.is(usablePolicy(parseDmarcRecord('v=DMARC1; p=bogus; rua=mailto:r@example.org')!, 'p'), 'none');
  t.is(usablePolicy(parseDmarcRecord('v=DMARC1; p=bogus')!, 'p'), undefined);
  t.is(usablePolicy(parseDmarcRecord('v=DMARC1; rua=mailto:r@example.org')!, 'p'), 'none');
  t.is(usablePolicy(parseDmarcRecord('v=DMARC1')!, 'p'), undefined);
  t.is(usablePolicy(parseDmarcRecord('v=DMARC1; p=reject; sp=bogus; rua=mailto:r@example.org')!, 'p'), 'none');
  t.is(usablePolicy(parseDmarcRecord('v=DMARC1; p=reject; np=bogus')!, 'sp'), undefined);
  t.is(usablePolicy(parseDmarcRecord('v=DMARC1; p=reject; rua=bogus')!, 'p'), 'reject');
});

test('t=y: one level softer (§4.7)', (t) => {
  t.is(testingPolicy('reject', true), 'quarantine');
  t.is(testingPolicy('quarantine', true), 'none');
  t.is(testingPolicy('none', true), 'none');
  t.is(testingPolicy('reject', false), 'reject');
});
