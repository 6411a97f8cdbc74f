import test from 'ava';
import { budgetedLookup } from '../../../src/auth/dns-budget.ts';
import { DmarcDiscovery } from '../../../src/auth/dmarc/discovery.ts';
import { dmarcNeeds, evaluateDmarc, MAX_AUTHOR_DOMAINS, type DmarcInput, type DmarcOptions } from '../../../src/auth/dmarc/evaluate.ts';
import type { DkimSignatureCheck, DmarcCheck, DmarcPolicy, SpfCheck } from '../../../src/auth/results.ts';
import { authorsOf } from '../../../src/mail/author.ts';
import { fakeLookup, type FakeName } from '../../support/fake-dns.ts';

const options: DmarcOptions = { noAuthorPolicy: 'reject', multipleFrom: 'reject' };

const zone: Record<string, FakeName> = {
  '_dmarc.example.com': { TXT: ['v=DMARC1; p=reject; sp=quarantine; rua=mailto:d@example.com'] },
  'example.com': { A: ['192.0.2.1'] },
  'news.example.com': { A: ['192.0.2.2'] },
  'bounce.example.com': { A: ['192.0.2.3'] },
  '_dmarc.strict.example': { TXT: ['v=DMARC1; p=reject; adkim=s; aspf=s'] },
  'strict.example': { A: ['192.0.2.4'] },
  '_dmarc.testing.example': { TXT: ['v=DMARC1; p=reject; t=y'] },
  '_dmarc.np.example': { TXT: ['v=DMARC1; p=none; np=reject'] },
  'exists.np.example': { A: ['192.0.2.5'] },
  '_dmarc.broken.example': { TXT: { error: 'SERVFAIL' } },
  '_dmarc.bank.example': { TXT: ['v=DMARC1; p=reject; psd=y'] },
  '_dmarc.giant.bank.example': { TXT: ['v=DMARC1; p=reject'] },
  '_dmarc.nop.example': { TXT: ['v=DMARC1; p=rejected'] },
  '_dmarc.nopr.example': { TXT: ['v=DMARC1; p=rejected; rua=mailto:r@nopr.example'] },
  '_dmarc.two.example': { TXT: ['v=DMARC1; p=reject', 'v=DMARC1; p=none'] },
  '_dmarc.none.example': { TXT: ['v=DMARC1; p=none'] },
  '_dmarc.sub.walkfail.example': { TXT: { error: 'TIMEOUT' } },
  '_dmarc.walkfail.example': { TXT: ['v=DMARC1; p=reject'] },
};

const from = (value: string) => authorsOf([{ name: 'From', value: ` ${value}` }]);

function spf(domain: string, result: SpfCheck['result'] = 'pass', scope: SpfCheck['scope'] = 'mfrom'): SpfCheck {
  return { result, scope, domain, identity: `bounce@${domain}`, reason: 'test', lookups: 1, voidLookups: 0 };
}

function dkim(domain: string, result: DkimSignatureCheck['result'] = 'pass', extra: Partial<DkimSignatureCheck> = {}): DkimSignatureCheck {
  return { result, domain, selector: 's', algorithm: 'rsa-sha256', partialBody: false, testing: false, reason: 'test', ...extra };
}

async function check(input: DmarcInput, opts: DmarcOptions = options, dns = fakeLookup(zone)): Promise<DmarcCheck> {
  const discovery = new DmarcDiscovery(dns);
  const facts = await discovery.facts(input, opts);
  // The facts are complete: nothing is left that the evaluation would look up.
  const needs = dmarcNeeds(input, facts, opts);
  if (needs.walks.length || needs.existence.length) throw new Error(`facts incomplete: ${JSON.stringify(needs)}`);
  return evaluateDmarc(input, facts, opts);
}

// [title, input, expected subset of the check]
type Expected = Omit<Partial<DmarcCheck>, 'reason' | 'policy'> & { readonly reason?: RegExp; readonly policy?: DmarcPolicy | undefined };
const table: [string, DmarcInput, Expected][] = [
  ['relaxed SPF alignment: bounce.example.com for example.com', { authors: from('a@example.com'), spf: spf('bounce.example.com'), dkim: [] }, { result: 'pass', aligned: { spf: true, dkim: [] }, organizationalDomain: 'example.com' }],
  ['relaxed DKIM alignment: d=example.com for news.example.com (sp applies)', { authors: from('a@news.example.com'), dkim: [dkim('example.com')] }, { result: 'pass', policyDomain: 'example.com', policySource: 'sp', requestedPolicy: 'quarantine' }],
  ['strict SPF alignment refuses a subdomain', { authors: from('a@strict.example'), spf: spf('mail.strict.example'), dkim: [] }, { result: 'fail', policy: 'reject' }],
  ['strict DKIM alignment: the same domain passes', { authors: from('a@strict.example'), dkim: [dkim('strict.example')] }, { result: 'pass' }],
  ['rsa-sha1 only: DKIM policy never aligns as pass → fail (issue 17)', { authors: from('a@example.com'), dkim: [dkim('example.com', 'policy', { algorithm: 'rsa-sha1', reason: 'rsa-sha1 is not acceptable (RFC 8301)' })] }, { result: 'fail', policy: 'reject' }],
  ['DKIM neutral, fail and permerror never count', { authors: from('a@example.com'), dkim: [dkim('example.com', 'neutral'), dkim('example.com', 'fail'), dkim('example.com', 'permerror')] }, { result: 'fail' }],
  ['an l= signature that leaves the body partly unsigned does not count by default', { authors: from('a@example.com'), dkim: [dkim('example.com', 'pass', { partialBody: true, bodyLength: 10 })] }, { result: 'fail', reason: /l= not counted/ }],
  ['a DKIM temperror whose d= aligns → temperror, not fail', { authors: from('a@example.com'), dkim: [dkim('example.com', 'temperror', { reason: 'key lookup: TIMEOUT' })] }, { result: 'temperror', policy: 'reject' }],
  ['a DKIM temperror whose d= cannot align → fail', { authors: from('a@example.com'), dkim: [dkim('other.example.net', 'temperror')] }, { result: 'fail' }],
  ['a temperror does not hide an aligned pass', { authors: from('a@example.com'), spf: spf('example.com', 'temperror'), dkim: [dkim('example.com')] }, { result: 'pass' }],
  ['an SPF temperror for an aligned domain → temperror', { authors: from('a@example.com'), spf: spf('bounce.example.com', 'temperror'), dkim: [] }, { result: 'temperror' }],
  ['an SPF pass that does not align → fail', { authors: from('a@example.com'), spf: spf('example.net'), dkim: [dkim('example.org')] }, { result: 'fail', aligned: { spf: false, dkim: [] } }],
  ['SPF softfail/fail/neutral/none/permerror are final', { authors: from('a@example.com'), spf: spf('example.com', 'permerror'), dkim: [] }, { result: 'fail' }],
  ['the null sender: SPF on postmaster@HELO is the MAIL FROM identity (RFC 9989 §3.2.4)', { authors: from('a@example.com'), spf: spf('mx.example.com', 'pass', 'helo'), dkim: [] }, { result: 'pass' }],
  ['the record lookup SERVFAILs → temperror', { authors: from('a@broken.example'), spf: spf('broken.example'), dkim: [] }, { result: 'temperror', reason: /SERVFAIL/ }],
  ['no record anywhere → none', { authors: from('a@unlisted.example'), dkim: [] }, { result: 'none' }],
  ['t=y: reject applied as quarantine', { authors: from('a@testing.example'), dkim: [] }, { result: 'fail', requestedPolicy: 'reject', policy: 'quarantine' }],
  ['np for a non-existent subdomain (NXDOMAIN)', { authors: from('a@ghost.np.example'), dkim: [] }, { result: 'fail', policySource: 'np', policy: 'reject' }],
  ['sp (here p) for an existing subdomain of a record with np', { authors: from('a@exists.np.example'), dkim: [] }, { result: 'fail', policySource: 'sp', policy: 'none' }],
  ['PSD: psd=y at bank.example, d=mega.bank.example does not align with giant.bank.example (B.4.3)', { authors: from('a@giant.bank.example'), spf: spf('mail.giant.bank.example', 'fail'), dkim: [dkim('mail.mega.bank.example')] }, { result: 'fail', organizationalDomain: 'giant.bank.example' }],
  ['PSD: the SPF domain mail.giant.bank.example aligns with giant.bank.example (B.4.3)', { authors: from('a@giant.bank.example'), spf: spf('mail.giant.bank.example'), dkim: [] }, { result: 'pass' }],
  ['PSD: an author without its own record gets the PSD policy', { authors: from('a@small.bank.example'), dkim: [] }, { result: 'fail', policyDomain: 'bank.example', policy: 'reject' }],
  ['an invalid p without rua: no DMARC processing → permerror, nothing applied', { authors: from('a@nop.example'), dkim: [] }, { result: 'permerror', policy: undefined }],
  ['an invalid p with a valid rua → p=none', { authors: from('a@nopr.example'), dkim: [] }, { result: 'fail', policy: 'none' }],
  ['two DMARC records at one name are discarded → none', { authors: from('a@two.example'), dkim: [] }, { result: 'none' }],
  ['a failed walk from the DKIM domain leaves alignment unknown → temperror', { authors: from('a@walkfail.example'), dkim: [dkim('sub.walkfail.example')] }, { result: 'temperror', reason: /alignment of DKIM sub\.walkfail\.example unknown/ }],
  ['"alice@example.org via Group" <group@lists.example.net>: one author', { authors: from('"alice@example.org via Group" <group@none.example>'), dkim: [dkim('none.example')] }, { result: 'pass', fromDomain: 'none.example' }],
  ['From: <<<><ceo@bank.example>>> → permerror and the configured policy (reject)', { authors: from('<<<><ceo@bank.example>>>'), dkim: [] }, { result: 'permerror', policy: 'reject', authorProblem: 'syntax' }],
  ['a From with no parseable domain → permerror', { authors: from('John Smith'), dkim: [] }, { result: 'permerror', policy: 'reject', authorProblem: 'no-domain' }],
  ['no From field → permerror', { authors: authorsOf([]), dkim: [] }, { result: 'permerror', authorProblem: 'no-from-field' }],
  ['several author domains, multiple_from=reject → permerror with reject', { authors: from('a@example.com, b@none.example'), dkim: [dkim('example.com')] }, { result: 'permerror', policy: 'reject', authorProblem: 'several-authors' }],
];

for (const [title, input, expected] of table) {
  test(title, async (t) => {
    const c = await check(input);
    const { reason, policy, ...rest } = expected;
    t.like(c, rest, c.reason);
    if ('policy' in expected) t.is(c.policy, policy);
    if (reason) t.regex(c.reason, reason);
  });
}

test('countPartialBody: an l= signature counts when configured so', async (t) => {
  const c = await check({ authors: from('a@example.com'), dkim: [dkim('example.com', 'pass', { partialBody: true })] }, { ...options, countPartialBody: true });
  t.is(c.result, 'pass');
});

test('the configured policy for a message without a usable author', async (t) => {
  const c = await check({ authors: from('<>'), dkim: [] }, { ...options, noAuthorPolicy: 'quarantine' });
  t.like(c, { result: 'permerror', policy: 'quarantine' });
});

test('multiple_from=strictest: each author domain evaluated, the strictest outcome applied', async (t) => {
  const strictest = { ...options, multipleFrom: 'strictest' } as const;
  const c = await check({ authors: from('a@none.example, b@example.com'), dkim: [dkim('none.example')] }, strictest);
  t.like(c, { result: 'fail', fromDomain: 'example.com', policy: 'reject' });
  t.deepEqual(
    c.authors?.map((a) => [a.fromDomain, a.result]),
    [
      ['none.example', 'pass'],
      ['example.com', 'fail'],
    ],
  );
  // A temperror outranks a quarantine: it may turn out a reject.
  const tq = await check({ authors: from('a@news.example.com, b@broken.example'), dkim: [] }, strictest);
  t.like(tq, { result: 'temperror', fromDomain: 'broken.example' });
  // Two From fields with one domain: evaluated, reported with the list.
  const twoFields = authorsOf([
    { name: 'From', value: ' a@example.com' },
    { name: 'From', value: ' b@example.com' },
  ]);
  const tf = await check({ authors: twoFields, dkim: [dkim('example.com')] }, strictest);
  t.like(tf, { result: 'pass' });
  t.is(tf.authors?.length, 1);
  t.deepEqual((await check({ authors: twoFields, dkim: [] })).authorProblem, 'several-authors');
  // Too many author domains to evaluate: permerror with the configured policy.
  const many = from(Array.from({ length: MAX_AUTHOR_DOMAINS + 1 }, (_, i) => `u@d${i}.example`).join(', '));
  t.like(await check({ authors: many, dkim: [] }, strictest), { result: 'permerror', authorProblem: 'too-many-authors', policy: 'reject' });
});

test('a spent DNS budget is a temperror, never a verdict', async (t) => {
  const dns = budgetedLookup(fakeLookup(zone), { timeMs: 5000, maxQueries: 1 });
  // One query (the author record) fits; the walk to the parent does not.
  const c = await check({ authors: from('a@news.example.com'), dkim: [dkim('example.com')] }, options, dns as never);
  dns.dispose();
  t.is(c.result, 'temperror');
  t.regex(c.reason, /BUDGET/);
});

test('evaluateDmarc with missing facts says temperror, never fail', (t) => {
  const input = { authors: from('a@example.com'), dkim: [dkim('example.com')] };
  const c = evaluateDmarc(input, { walks: new Map(), existence: new Map() }, options);
  t.is(c.result, 'temperror');
  t.deepEqual(dmarcNeeds(input, { walks: new Map(), existence: new Map() }, options), { walks: ['example.com'], existence: [] });
});

test('discovery asks each name once, and walks only from identifiers that could align', async (t) => {
  const dns = fakeLookup(zone);
  const d = new DmarcDiscovery(dns);
  d.prefetch(['news.example.com'], ['example.com', 'mail.example.com', 'other.example.net', 'news.example.com']);
  const input = { authors: from('a@news.example.com'), spf: spf('mail.example.com'), dkim: [dkim('example.com'), dkim('other.example.net')] };
  const c = await d.check(input, options);
  t.is(c.result, 'pass');
  const names = dns.calls.map((q) => `${q.name}/${q.type}`);
  t.is(new Set(names).size, names.length, `asked twice: ${names.join(' ')}`);
  // other.example.net cannot align (outside example.com), example.com is the org domain itself.
  t.false(names.includes('_dmarc.other.example.net/TXT'));
  t.false(names.some((n) => n.startsWith('_dmarc.example.net')));
  t.true(names.includes('_dmarc.mail.example.com/TXT'));
});

test('np: an answer for _dmarc.<author> already shows the author exists; only NXDOMAIN there asks the name itself', async (t) => {
  const dns = fakeLookup({ ...zone, '_dmarc.listed.np.example': { TXT: ['some other text'] } });
  const listed = await new DmarcDiscovery(dns).check({ authors: from('a@listed.np.example'), dkim: [] }, options);
  t.like(listed, { result: 'fail', policySource: 'sp', policy: 'none' });
  t.false(dns.calls.some((c) => c.name === 'listed.np.example'));
  const ghost = await new DmarcDiscovery(dns).check({ authors: from('a@ghost.np.example'), dkim: [] }, options);
  t.like(ghost, { policySource: 'np', policy: 'reject' });
  t.true(dns.calls.some((c) => c.name === 'ghost.np.example' && c.type === 'A'));
});

test('np: the existence lookup fails → temperror (the policy is unknown)', async (t) => {
  const dns = fakeLookup({ ...zone, 'down.np.example': { A: { error: 'TIMEOUT' } } });
  const c = await new DmarcDiscovery(dns).check({ authors: from('a@down.np.example'), dkim: [] }, options);
  t.is(c.result, 'temperror');
  t.regex(c.reason, /existence of down\.np\.example unknown/);
});

test('identifier domains are compared normalized (upper case, trailing dot)', async (t) => {
  const c = await check({ authors: from('a@news.example.com'), spf: spf('BOUNCE.Example.COM.'), dkim: [dkim('Example.Com.')] });
  t.like(c, { result: 'pass', aligned: { spf: true, dkim: ['example.com'] } });
});
