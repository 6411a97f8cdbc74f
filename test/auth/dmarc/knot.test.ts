/**
 * DMARC policy discovery and alignment against a real Knot DNS on loopback, through our
 * caching resolver: a tree walk across several zones (test → corp.test → eu.corp.test …),
 * psd=y at a parent zone, np for an NXDOMAIN subdomain, psd=n in a child zone, and a zone
 * that fails to load (Knot answers SERVFAIL) → temperror.
 */
import test from 'ava';
import { DmarcDiscovery } from '../../../src/auth/dmarc/discovery.ts';
import type { DmarcOptions } from '../../../src/auth/dmarc/evaluate.ts';
import type { DkimSignatureCheck, SpfCheck } from '../../../src/auth/results.ts';
import { createResolver } from '../../../src/dns/resolver.ts';
import { authorsOf } from '../../../src/mail/author.ts';
import { knotMissing, startKnot, type KnotServer } from '../../support/knot.ts';

const missing = knotMissing();
const it = missing ? test.skip : test;
if (missing) test.skip(`DMARC against Knot: ${missing}`, () => {});

let knot: KnotServer | undefined;

test.before(async () => {
  if (missing) return;
  knot = await startKnot({
    zones: [
      // The parent of everything, so `_dmarc.test` is an authoritative NXDOMAIN, as `_dmarc.com` is on the internet.
      { name: 'test' },
      { name: 'corp.test', records: ['_dmarc TXT "v=DMARC1; p=reject; sp=quarantine; np=reject; rua=mailto:dmarc@corp.test"', 'www A 192.0.2.80', 'mail A 192.0.2.25'].join('\n') },
      // A child zone with its own record (psd=u): it applies to eu.corp.test only; subdomains get corp.test's sp.
      { name: 'eu.corp.test', records: ['_dmarc TXT "v=DMARC1; p=none"', 'a.b A 192.0.2.81'].join('\n') },
      // A child zone that declares itself an organizational domain.
      { name: 'dept.corp.test', records: ['_dmarc TXT "v=DMARC1; p=none; psd=n"', 'x A 192.0.2.82', 'mail A 192.0.2.83'].join('\n') },
      // A public suffix operator's record, and a registrant below it without one.
      { name: 'psd.test', records: '_dmarc TXT "v=DMARC1; p=reject; psd=y"' },
      { name: 'shop.psd.test', records: ['@ A 192.0.2.90', 'mail A 192.0.2.91'].join('\n') },
      { name: 'other.psd.test', records: '@ A 192.0.2.92' },
    ],
  });
  // A zone Knot is told to serve but cannot load: every query in it is SERVFAIL.
  await knot.knotc('conf-begin');
  await knot.knotc('conf-set', 'zone[broken.test.]');
  await knot.knotc('conf-commit');
});
test.after.always(async () => {
  await knot?.stop();
});

const options: DmarcOptions = { noAuthorPolicy: 'reject', multipleFrom: 'reject' };
const from = (v: string) => authorsOf([{ name: 'From', value: ` ${v}` }]);
const spf = (domain: string): SpfCheck => ({ result: 'pass', scope: 'mfrom', domain, identity: `b@${domain}`, reason: 'test', lookups: 1, voidLookups: 0 });
const dkim = (domain: string): DkimSignatureCheck => ({ result: 'pass', domain, selector: 's', partialBody: false, testing: false, reason: 'test' });

function discovery() {
  const resolver = createResolver({ servers: [knot!.server], timeoutMs: 1000, attempts: 1 });
  return { resolver, d: new DmarcDiscovery(resolver) };
}

it('a tree walk across several zones: a.b.eu.corp.test gets corp.test sp=quarantine (the child zone record applies to eu.corp.test only)', async (t) => {
  const { d } = discovery();
  const c = await d.check({ authors: from('a@a.b.eu.corp.test'), dkim: [dkim('eu.corp.test')] }, options);
  t.like(c, { result: 'pass', policyDomain: 'corp.test', organizationalDomain: 'corp.test', policySource: 'sp', requestedPolicy: 'quarantine' }, c.reason);
  const fail = await d.check({ authors: from('a@a.b.eu.corp.test'), spf: spf('example.net'), dkim: [] }, options);
  t.like(fail, { result: 'fail', policy: 'quarantine' });
  const own = await d.check({ authors: from('a@eu.corp.test'), dkim: [] }, options);
  t.like(own, { result: 'fail', policyDomain: 'eu.corp.test', policySource: 'p', policy: 'none' });
});

it('psd=n in a child zone makes it the organizational domain: d=corp.test no longer aligns with x.dept.corp.test', async (t) => {
  const { d } = discovery();
  const c = await d.check({ authors: from('a@x.dept.corp.test'), dkim: [dkim('corp.test')] }, options);
  t.like(c, { result: 'fail', organizationalDomain: 'dept.corp.test', policyDomain: 'dept.corp.test', policy: 'none' }, c.reason);
  const aligned = await d.check({ authors: from('a@x.dept.corp.test'), dkim: [dkim('mail.dept.corp.test')] }, options);
  t.is(aligned.result, 'pass', aligned.reason);
});

it('psd=y at the parent: shop.psd.test is its own organizational domain under the PSD policy', async (t) => {
  const { d } = discovery();
  const pass = await d.check({ authors: from('a@shop.psd.test'), spf: spf('mail.shop.psd.test'), dkim: [] }, options);
  t.like(pass, { result: 'pass', organizationalDomain: 'shop.psd.test', policyDomain: 'psd.test' }, pass.reason);
  const fail = await d.check({ authors: from('a@shop.psd.test'), dkim: [dkim('other.psd.test')] }, options);
  t.like(fail, { result: 'fail', policy: 'reject', policySource: 'sp' }, fail.reason);
});

it('np for a subdomain Knot answers NXDOMAIN for; sp for one that exists', async (t) => {
  const { d } = discovery();
  const ghost = await d.check({ authors: from('a@ghost.corp.test'), dkim: [] }, options);
  t.like(ghost, { result: 'fail', policySource: 'np', policy: 'reject' }, ghost.reason);
  const www = await d.check({ authors: from('a@www.corp.test'), dkim: [] }, options);
  t.like(www, { result: 'fail', policySource: 'sp', policy: 'quarantine' }, www.reason);
});

it('the record lookup SERVFAILs (zone not loaded) → temperror, never fail', async (t) => {
  const { d, resolver } = discovery();
  const c = await d.check({ authors: from('ceo@broken.test'), spf: spf('example.net'), dkim: [] }, options);
  t.like(c, { result: 'temperror' });
  t.regex(c.reason, /SERVFAIL/);
  t.true((resolver.stats().failures.SERVFAIL ?? 0) >= 1);
});

it('each name is asked once per message; the resolver cache serves the next message', async (t) => {
  const { resolver } = discovery();
  const first = new DmarcDiscovery(resolver);
  await first.check({ authors: from('a@a.b.eu.corp.test'), spf: spf('mail.corp.test'), dkim: [dkim('eu.corp.test')] }, options);
  const sent = resolver.stats().queriesSent;
  // _dmarc at a.b.eu.corp.test, b.eu.corp.test, eu.corp.test, corp.test, test; mail.corp.test's walk
  // adds one name; corp.test's record has np=, so whether a.b.eu.corp.test exists is asked (A).
  t.is(sent, 7);
  await new DmarcDiscovery(resolver).check({ authors: from('a@a.b.eu.corp.test'), spf: spf('mail.corp.test'), dkim: [dkim('eu.corp.test')] }, options);
  t.is(resolver.stats().queriesSent, sent);
});
