/**
 * Who sends from each address (`resolveSenders`), on the iprev check of src/auth/iprev/:
 * forward-confirmed names, PTR names that do not resolve back (a spoofer naming itself after
 * someone else), no PTR, DNS failures named as such, and the bounds (`max`, the budget).
 */
import test from 'ava';
import type { DnsLookup } from '../../../src/dns/types.ts';
import { resolveSenders } from '../../../src/reports/received/senders.ts';
import { fakeLookup } from '../../support/fake-dns.ts';

const dns = fakeLookup({
  '25.2.0.192.in-addr.arpa': { PTR: ['mx.example.test.'] },
  'mx.example.test': { A: ['192.0.2.25'], AAAA: ['2001:db8::25'] },
  '5.100.51.198.in-addr.arpa': { PTR: ['mx.example.test.'] }, // claims our name; it does not resolve back
  '7.100.51.198.in-addr.arpa': { PTR: { error: 'SERVFAIL' } },
  [`5.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa`]: { PTR: ['mx.example.test.'] },
});

test('confirmed, unconfirmed, no PTR, DNS error: each named as what it is', async (t) => {
  const r = await resolveSenders(['192.0.2.25', '198.51.100.5', '198.51.100.6', '198.51.100.7', '2001:db8::25'], dns, { max: 10, budgetMs: 5000 });
  t.deepEqual(Object.fromEntries(r.identities), {
    '192.0.2.25': { status: 'confirmed', name: 'mx.example.test' },
    '198.51.100.5': { status: 'unconfirmed', name: 'mx.example.test' },
    '198.51.100.6': { status: 'no-ptr' },
    '198.51.100.7': { status: 'dns-error', reason: 'PTR lookup failed: SERVFAIL' },
    '2001:db8::25': { status: 'confirmed', name: 'mx.example.test' },
  });
  t.is(r.lookedUp, 5);
  t.false(r.budgetSpent);
});

test('bounded: at most `max` addresses, the first ones given; a spent budget leaves the rest not looked up rather than calling them errors', async (t) => {
  const few = await resolveSenders(['192.0.2.25', '198.51.100.5', '198.51.100.6'], dns, { max: 2, budgetMs: 5000 });
  t.deepEqual([...few.identities.keys()], ['192.0.2.25', '198.51.100.5']);
  // A resolver that never answers until the budget aborts the query.
  const hanging: DnsLookup = {
    query: (_name, _type, qo = {}) =>
      new Promise((_resolve, reject) => qo.signal?.addEventListener('abort', () => reject(Object.assign(new Error('aborted'), { code: 'TIMEOUT' })), { once: true })),
  } as DnsLookup;
  const started = Date.now();
  const cut = await resolveSenders(['192.0.2.1', '192.0.2.2', '192.0.2.3'], hanging, { max: 10, budgetMs: 100, concurrency: 2 });
  t.true(Date.now() - started < 2000, 'stops at the budget');
  t.true(cut.budgetSpent);
  t.is(cut.lookedUp, 0, 'nothing is called a DNS error because we stopped asking');
});
