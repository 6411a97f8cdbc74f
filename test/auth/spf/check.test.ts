import test from 'ava';
import { budgetedLookup } from '../../../src/auth/dns-budget.ts';
import { checkSpf, type SpfDeps, type SpfInput } from '../../../src/auth/spf/check.ts';
import { DnsError, type DnsLookup } from '../../../src/dns/types.ts';
import { fakeLookup, type FakeName } from '../../support/fake-dns.ts';

const limits = { lookups: 10, voidLookups: 2 };
const now = () => Date.UTC(2026, 0, 1, 12);

function deps(dns: DnsLookup, extra: Partial<SpfDeps> = {}): SpfDeps {
  return { dns, now, limits, ...extra };
}

function input(extra: Partial<SpfInput> = {}): SpfInput {
  return { ip: '192.0.2.10', mailFrom: 'alice@example.test', helo: 'mail.example.test', receiver: 'mx.receiver.test', ...extra };
}

const zone = (entries: Record<string, FakeName>) => fakeLookup(entries);

test('pass, with the matching term and the counts in the result', async (t) => {
  const dns = zone({ 'example.test': { TXT: ['v=spf1 a:mail.example.test ip4:192.0.2.0/24 -all'] }, 'mail.example.test': { A: ['198.51.100.1'] } });
  const r = await checkSpf(input(), deps(dns));
  t.deepEqual(r, {
    result: 'pass',
    scope: 'mfrom',
    domain: 'example.test',
    identity: 'alice@example.test',
    reason: 'example.test: ip4:192.0.2.0/24 matched',
    lookups: 1,
    voidLookups: 0,
  });
});

test('the null sender checks the HELO identity postmaster@helo (§2.4)', async (t) => {
  const dns = zone({ 'mail.example.test': { TXT: ['v=spf1 ip4:192.0.2.10 -all'] } });
  const r = await checkSpf(input({ mailFrom: '' }), deps(dns));
  t.like(r, { result: 'pass', scope: 'helo', domain: 'mail.example.test', identity: 'postmaster@mail.example.test' });
  const bracketed = await checkSpf(input({ mailFrom: '<>' }), deps(dns));
  t.like(bracketed, { result: 'pass', scope: 'helo' }, 'angle brackets around the null path are tolerated');
  t.like(await checkSpf(input({ mailFrom: '<alice@mail.example.test>' }), deps(dns)), { scope: 'mfrom', identity: 'alice@mail.example.test' });
});

test('§4.3: no valid domain → none without any lookup; no local-part → postmaster', async (t) => {
  const dns = zone({ 'example.test': { TXT: ['v=spf1 -all exp=e.example.test'] }, 'e.example.test': { TXT: ['%{l}@%{o}'] } });
  for (const mailFrom of ['a@[192.0.2.1]', 'a@localhost', 'a@exa..mple.test', `a@${'x'.repeat(64)}.test`, 'a@']) {
    t.like(await checkSpf(input({ mailFrom }), deps(dns)), { result: 'none' }, mailFrom);
  }
  t.is(dns.calls.length, 0);
  t.like(await checkSpf(input({ mailFrom: '@example.test' }), deps(dns)), { result: 'fail', identity: 'postmaster@example.test', explanation: 'postmaster@example.test' });
});

test('an unparseable client address is no check (none), not a verdict on the sender', async (t) => {
  const dns = zone({ 'example.test': { TXT: ['v=spf1 -all'] } });
  t.like(await checkSpf(input({ ip: 'unknown' }), deps(dns)), { result: 'none' });
  t.is(dns.calls.length, 0);
});

test('IDN MAIL FROM domains are checked as A-labels (RFC 8616 §4)', async (t) => {
  const dns = zone({ 'xn--bcher-kva.test': { TXT: ['v=spf1 ip4:192.0.2.10 -all'] } });
  t.like(await checkSpf(input({ mailFrom: 'kim@bücher.test' }), deps(dns)), { result: 'pass', domain: 'xn--bcher-kva.test', identity: 'kim@xn--bcher-kva.test' });
});

test('a non-ASCII local-part: terms whose target uses %{l} or %{s} do not match (RFC 8616 §4)', async (t) => {
  const dns = zone({
    'example.test': { TXT: ['v=spf1 exists:%{l}.users.example.test include:%{s}.inc.example.test a:%{d}.hosts.example.test -all'] },
    'example.test.hosts.example.test': { A: ['192.0.2.10'] },
  });
  const r = await checkSpf(input({ mailFrom: 'jöran@example.test' }), deps(dns));
  t.like(r, { result: 'pass', reason: 'example.test: a:%{d}.hosts.example.test matched' });
  t.false(dns.calls.some((c) => c.name.includes('users') || c.name.includes('inc')), 'no query built from the local-part');
});

test('IPv6 clients: a and mx compare AAAA records under the IPv6 prefix; ip4 never matches; IPv4-mapped is IPv4', async (t) => {
  const dns = zone({
    'example.test': { TXT: ['v=spf1 ip4:0.0.0.0/0 mx//64 -all'], MX: [{ exchange: 'mx.example.test', priority: 10 }] },
    'mx.example.test': { A: ['192.0.2.99'], AAAA: ['2001:db8:1:2::25'] },
  });
  t.like(await checkSpf(input({ ip: '2001:db8:1:2:ffff::1' }), deps(dns)), { result: 'pass', reason: 'example.test: mx//64 matched' });
  t.like(await checkSpf(input({ ip: '2001:db8:1:3::1' }), deps(dns)), { result: 'fail' });
  t.like(await checkSpf(input({ ip: '::ffff:192.0.2.99' }), deps(dns)), { result: 'pass', reason: 'example.test: ip4:0.0.0.0/0 matched' });
});

test('records that are not addresses, and MX names that are not names, are skipped', async (t) => {
  const dns = zone({
    'example.test': { TXT: ['v=spf1 a mx -all'], A: ['not-an-address', '192.0.2.300'], MX: [{ exchange: '', priority: 0 }, { exchange: 'bad..name', priority: 1 }, { exchange: 'mx.example.test', priority: 5 }] },
    'mx.example.test': { A: ['192.0.2.10'] },
  });
  t.like(await checkSpf(input(), deps(dns)), { result: 'pass', reason: 'example.test: mx matched' });
});

test('DNS failures are temperror, never pass or fail: SERVFAIL, timeout, an exchange lookup, an include', async (t) => {
  const cases: [Record<string, FakeName>, string][] = [
    [{ 'example.test': { TXT: { error: 'SERVFAIL' } } }, 'DNS SERVFAIL for TXT example.test'],
    [{ 'example.test': { TXT: ['v=spf1 a:slow.example.test -all'] }, 'slow.example.test': { error: 'TIMEOUT' } }, 'DNS TIMEOUT for A slow.example.test'],
    [{ 'example.test': { TXT: ['v=spf1 mx -all'], MX: [{ exchange: 'mx.example.test', priority: 1 }] }, 'mx.example.test': { A: { error: 'REFUSED' } } }, 'DNS REFUSED for A mx.example.test'],
    [{ 'example.test': { TXT: ['v=spf1 include:other.test -all'] }, 'other.test': { TXT: { error: 'SERVFAIL' } } }, 'example.test: include:other.test → DNS SERVFAIL for TXT other.test'],
    [{ 'example.test': { TXT: ['v=spf1 exists:%{ir}.bl.test -all'] }, '10.2.0.192.bl.test': { A: { error: 'NETWORK' } } }, 'DNS NETWORK for A 10.2.0.192.bl.test'],
  ];
  for (const [z, reason] of cases) t.like(await checkSpf(input(), deps(zone(z))), { result: 'temperror', reason });
});

test('a DNS error on the PTR lookup only makes ptr not match (§5.5); on a PTR name, that name is skipped', async (t) => {
  const dns = zone({
    'example.test': { TXT: ['v=spf1 ptr ?all'] },
    '10.2.0.192.in-addr.arpa': { PTR: { error: 'SERVFAIL' } },
  });
  t.like(await checkSpf(input(), deps(dns)), { result: 'neutral', reason: 'example.test: ?all matched' });
  dns.set('10.2.0.192.in-addr.arpa', { PTR: ['broken.example.test', 'mail.example.test'] });
  dns.set('broken.example.test', { error: 'TIMEOUT' });
  dns.set('mail.example.test', { A: ['192.0.2.10'] });
  t.like(await checkSpf(input(), deps(dns)), { result: 'pass', reason: 'example.test: ptr matched' });
});

test('budget exhausted → temperror saying which budget; an aborted check → temperror', async (t) => {
  const z = zone({ 'example.test': { TXT: ['v=spf1 a:a.example.test a:b.example.test ip4:192.0.2.10 -all'] }, 'a.example.test': { A: ['192.0.2.1'] }, 'b.example.test': { A: ['192.0.2.2'] } });
  const budget = budgetedLookup(z, { timeMs: 5000, maxQueries: 2 });
  t.teardown(() => budget.dispose());
  t.like(await checkSpf(input(), deps(budget)), { result: 'temperror', reason: 'per-message DNS query budget of 2 lookups spent (at A b.example.test)' });

  // Answers nothing until its signal aborts, then rejects as the real resolver does.
  const never: DnsLookup = {
    query: (name, type, o) =>
      new Promise((_, reject) => o?.signal?.addEventListener('abort', () => reject(new DnsError('ABORTED', 'lookup aborted', { name, type }, { cause: o.signal!.reason })))),
  };
  // The budget's deadline timer is unref'd (it must not keep a milter alive); keep this test's loop alive.
  const keepAlive = setTimeout(() => {}, 10_000);
  t.teardown(() => clearTimeout(keepAlive));
  const timed = budgetedLookup(never, { timeMs: 30, maxQueries: 100 });
  t.teardown(() => timed.dispose());
  const slow = await checkSpf(input(), deps(timed));
  t.is(slow.result, 'temperror');
  t.regex(slow.reason, /DNS time budget of 30 ms spent/);

  const controller = new AbortController();
  const pending = checkSpf(input(), deps(budgetedLookup(never, { timeMs: 60_000, maxQueries: 100 }, { signal: controller.signal }), { signal: controller.signal }));
  controller.abort();
  t.like(await pending, { result: 'temperror', reason: 'SPF check aborted (at TXT example.test)' });
});

test('a PTR lookup hitting the budget is temperror, not "no match"', async (t) => {
  const z = zone({ 'example.test': { TXT: ['v=spf1 ptr -all'] } });
  const budget = budgetedLookup(z, { timeMs: 5000, maxQueries: 1 });
  t.teardown(() => budget.dispose());
  t.like(await checkSpf(input(), deps(budget)), { result: 'temperror' });
});

test('a resolver that throws something other than a DnsError yields temperror', async (t) => {
  const broken: DnsLookup = {
    query: () => {
      throw new TypeError('resolver bug');
    },
  };
  t.like(await checkSpf(input(), deps(broken)), { result: 'temperror', reason: 'DNS OTHER for TXT example.test' });
  const rejecting: DnsLookup = { query: () => Promise.reject(new DnsError('MALFORMED', 'bad reply', {})) };
  t.like(await checkSpf(input(), deps(rejecting)), { result: 'temperror' });
});

test('the limits come from the caller (inbound.spf_max_lookups / spf_max_void_lookups)', async (t) => {
  const dns = zone({
    'example.test': { TXT: ['v=spf1 a:n1.example.test a:n2.example.test a:n3.example.test ip4:192.0.2.10 -all'] },
  });
  t.like(await checkSpf(input(), deps(dns)), { result: 'permerror', reason: 'more than 2 void lookups, at A n3.example.test (RFC 7208 §4.6.4)' });
  t.like(await checkSpf(input(), deps(dns, { limits: { lookups: 10, voidLookups: 5 } })), { result: 'pass', voidLookups: 3 });
  t.like(await checkSpf(input(), deps(dns, { limits: { lookups: 2, voidLookups: 5 } })), { result: 'permerror', reason: 'more than 2 DNS-querying terms, at a:n3.example.test in example.test (RFC 7208 §4.6.4)' });
});

test('more than 10 MX names → permerror; PTR names past the tenth are ignored (§4.6.4)', async (t) => {
  const mx = Array.from({ length: 11 }, (_, i) => ({ exchange: `mx${i}.example.test`, priority: i }));
  const dns = zone({ 'example.test': { TXT: ['v=spf1 mx ptr ~all'], MX: mx }, 'mx0.example.test': { A: ['192.0.2.10'] } });
  t.like(await checkSpf(input(), deps(dns)), { result: 'permerror', reason: 'mx:example.test has 11 MX records, more than 10 (RFC 7208 §4.6.4)' });
  dns.set('example.test', { TXT: ['v=spf1 ptr ~all'] });
  dns.set('10.2.0.192.in-addr.arpa', { PTR: [...Array.from({ length: 10 }, (_, i) => `h${i}.other.test`), 'mail.example.test'] });
  dns.set('mail.example.test', { A: ['192.0.2.10'] });
  t.like(await checkSpf(input(), deps(dns)), { result: 'softfail' });
});

test('exp= is looked up only for a final fail, never counted, and only the deciding record’s (§6.2)', async (t) => {
  const dns = zone({
    'example.test': { TXT: ['v=spf1 ip4:192.0.2.10 include:inc.example.test ~all exp=why.example.test'] },
    'inc.example.test': { TXT: ['v=spf1 -all exp=inc-why.example.test'] },
    'why.example.test': { TXT: ['%{i} is not one of %{o}’s servers'] },
    'inc-why.example.test': { TXT: ['never used'] },
  });
  t.like(await checkSpf(input(), deps(dns)), { result: 'pass' });
  t.like(await checkSpf(input({ ip: '192.0.2.11' }), deps(dns)), { result: 'softfail' });
  t.false(dns.calls.some((c) => c.name.includes('why')), 'no explanation looked up for pass or softfail, none for the include');
  dns.set('example.test', { TXT: ['v=spf1 ip4:192.0.2.10 include:inc.example.test -all exp=why.example.test'] });
  const r = await checkSpf(input({ ip: '192.0.2.11' }), deps(dns));
  t.like(r, { result: 'fail', lookups: 1 });
  t.is(r.explanation, undefined, 'a non-ASCII explanation is ignored (§6.2)');
  dns.set('why.example.test', { TXT: ['%{i} is not one of %{o}s servers; ask %{r} at %{t}'] });
  t.is((await checkSpf(input({ ip: '192.0.2.11' }), deps(dns))).explanation, `192.0.2.11 is not one of example.tests servers; ask mx.receiver.test at ${now() / 1000}`);
  t.is((await checkSpf(input({ ip: '192.0.2.11', receiver: '' }), deps(dns))).explanation?.includes('ask unknown'), true, '%{r} without a name is "unknown" (§7.3)');
  dns.set('why.example.test', { TXT: [`${'%{s}'.repeat(400)}`] });
  t.is((await checkSpf(input({ ip: '192.0.2.11' }), deps(dns))).explanation?.length, 1024, 'explanations are capped');
});

test('each (name, type) is asked once per check, however many terms reach it; lookups still count per term', async (t) => {
  const dns = zone({
    'example.test': { TXT: ['v=spf1 include:inc.example.test include:inc.example.test a:inc.example.test mx:inc.example.test -all'] },
    'inc.example.test': { TXT: ['v=spf1 a ?all'], A: ['198.51.100.7'], MX: [{ exchange: 'inc.example.test', priority: 1 }] },
  });
  const r = await checkSpf(input(), deps(dns));
  t.like(r, { result: 'fail', lookups: 6 });
  const asked = dns.calls.map((c) => `${c.type} ${c.name}`);
  t.deepEqual(asked.sort(), ['A inc.example.test', 'MX inc.example.test', 'TXT example.test', 'TXT inc.example.test']);
});

test('%{p} is the validated client name for the current domain, found once per check (§7.3)', async (t) => {
  const dns = zone({
    'example.test': { TXT: ['v=spf1 exists:%{p}.ok.example.test exists:x.%{p}.ok.example.test -all'] },
    '10.2.0.192.in-addr.arpa': { PTR: ['other.test', 'mx.example.test', 'fake.example.test'] },
    'other.test': { A: ['192.0.2.10'] },
    'mx.example.test': { A: ['192.0.2.10'] },
    'fake.example.test': { A: ['192.0.2.99'] },
    'x.mx.example.test.ok.example.test': { A: ['127.0.0.2'] },
  });
  t.like(await checkSpf(input(), deps(dns)), { result: 'pass', reason: 'example.test: exists:x.%{p}.ok.example.test matched' });
  t.is(dns.calls.filter((c) => c.type === 'PTR').length, 1);
});

test('%{t} reads the injected clock', async (t) => {
  const dns = zone({ 'example.test': { TXT: ['v=spf1 -all exp=e.example.test'] }, 'e.example.test': { TXT: ['at %{t}'] } });
  t.is((await checkSpf(input(), deps(dns, { now: () => 1_000_999 }))).explanation, 'at 1000');
});

test('include of a domain without a record, or a redirect to one, is permerror (§5.2, §6.1)', async (t) => {
  const dns = zone({ 'example.test': { TXT: ['v=spf1 include:nowhere.test -all'] }, 'r.test': { TXT: ['v=spf1 redirect=nowhere.test'] } });
  t.like(await checkSpf(input(), deps(dns)), { result: 'permerror', reason: 'example.test: include:nowhere.test: nowhere.test does not exist (RFC 7208 §5.2)' });
  t.like(await checkSpf(input({ mailFrom: 'a@r.test' }), deps(dns)), { result: 'permerror', reason: 'r.test: redirect=nowhere.test: nowhere.test does not exist (RFC 7208 §6.1)' });
});

test('targets DNS cannot carry are names that do not exist: no match for a/exists (a void lookup), permerror for include', async (t) => {
  const dns = zone({
    'example.test': { TXT: ['v=spf1 a:%{l}.example.test exists:%{l} ?all'] },
    'inc.test': { TXT: ['v=spf1 include:%{l}.example.test -all'] },
  });
  const long = 'x'.repeat(64);
  t.like(await checkSpf(input({ mailFrom: `${long}@example.test` }), deps(dns)), { result: 'neutral', voidLookups: 2 });
  t.like(await checkSpf(input({ mailFrom: `${long}@inc.test` }), deps(dns)), { result: 'permerror' });
  t.false(dns.calls.some((c) => c.name.includes(long)), 'never asked');
});

test('a syntax error in the record is permerror naming the term', async (t) => {
  const dns = zone({ 'example.test': { TXT: ['v=spf1 ip4:192.0.2.10 -all moo'] } });
  t.like(await checkSpf(input(), deps(dns)), {
    result: 'permerror',
    reason: 'syntax error in the SPF record of example.test: unknown mechanism "moo" (RFC 7208 §5) in term 3 "moo"',
  });
});

test('several SPF records → permerror; other TXT records are ignored; strings are joined without separator', async (t) => {
  const dns = zone({ 'example.test': { TXT: ['v=spf1 -all', 'V=SPF1 +all', 'google-site-verification=x'] }, 'j.test': { TXT: [['v=spf1 ip4:192.0.2.', '10 -all'], 'other'] } });
  t.like(await checkSpf(input(), deps(dns)), { result: 'permerror', reason: '2 SPF records at example.test (RFC 7208 §4.5)' });
  t.like(await checkSpf(input({ mailFrom: 'a@j.test' }), deps(dns)), { result: 'pass' });
});

test('records cached by the resolver are parsed once and shared safely between checks', async (t) => {
  // A resolver cache hands out the same record arrays on every hit; so does this lookup.
  const answers = new Map<string, Awaited<ReturnType<DnsLookup['query']>>>();
  const backing = zone({
    'example.test': { TXT: ['v=spf1 include:inc.example.test -all exp=e.example.test', 'other'] },
    'inc.example.test': { TXT: [['v=spf1 ip4:192.0.2.0/25', ' ip6:2001:db8::/32 ~all']] },
    'e.example.test': { TXT: ['%{i} refused for %{s}'] },
  });
  const cached: DnsLookup = {
    async query(name, type, o) {
      const key = `${type} ${name}`;
      let a = answers.get(key);
      if (!a) answers.set(key, (a = await backing.query(name, type, o)));
      return a as never;
    },
  };
  const results = [];
  for (const [ip, mailFrom] of [
    ['192.0.2.10', 'a@example.test'],
    ['192.0.2.200', 'b@example.test'],
    ['2001:db8::7', 'c@example.test'],
    ['198.51.100.1', 'd@EXAMPLE.test'],
  ] as const) {
    const r = await checkSpf(input({ ip, mailFrom }), deps(cached));
    results.push([r.result, r.explanation]);
  }
  t.deepEqual(results, [
    ['pass', undefined],
    ['fail', '192.0.2.200 refused for b@example.test'],
    ['pass', undefined],
    ['fail', '198.51.100.1 refused for d@EXAMPLE.test'],
  ]);
  t.is(backing.calls.length, 3, 'every name asked once for all four checks');
});
