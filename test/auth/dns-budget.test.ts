import test from 'ava';
import { budgetedLookup } from '../../src/auth/dns-budget.ts';
import { DnsError, type DnsAnswer, type DnsLookup, type QueryOptions, type RRType } from '../../src/dns/types.ts';

/** Answers at once, or (for names starting "slow.") only when the query's signal aborts. */
function lookup(): DnsLookup & { signals: (AbortSignal | undefined)[] } {
  const signals: (AbortSignal | undefined)[] = [];
  return {
    signals,
    async query<T extends RRType>(name: string, type: T, o: QueryOptions = {}): Promise<DnsAnswer<T>> {
      signals.push(o.signal);
      if (name.startsWith('slow.')) {
        await new Promise<void>((_, reject) => o.signal?.addEventListener('abort', () => reject(new DnsError('ABORTED', 'aborted', { name, type })), { once: true }));
      }
      return { name, type, rcode: 'NOERROR', records: [], ttl: 60, authenticated: false, authoritative: false, cnameChain: [] } as unknown as DnsAnswer<T>;
    },
  };
}

const code = async (p: Promise<unknown>) => {
  try {
    await p;
    return 'ok';
  } catch (err) {
    return err instanceof DnsError ? err.code : String(err);
  }
};

test('the query cap: lookup N+1 is BUDGET, and every later one', async (t) => {
  const b = budgetedLookup(lookup(), { timeMs: 10_000, maxQueries: 3 });
  for (let i = 0; i < 3; i++) t.is(await code(b.query(`n${i}.example`, 'TXT')), 'ok');
  t.is(await code(b.query('n4.example', 'TXT')), 'BUDGET');
  t.is(await code(b.query('n5.example', 'A')), 'BUDGET');
  t.deepEqual(b.spent, { queries: 3, exhausted: 'queries' });
  b.dispose();
});

test('the time budget: a lookup still waiting at the deadline is BUDGET (time), not just aborted', async (t) => {
  const b = budgetedLookup(lookup(), { timeMs: 50, maxQueries: 100 });
  // The budget's timer is unref'd (it must not keep a milter alive); keep this test's loop alive.
  const alive = setTimeout(() => {}, 10_000);
  t.teardown(() => clearTimeout(alive));
  t.is(await code(b.query('slow.example', 'TXT')), 'BUDGET');
  t.is(b.spent.exhausted, 'time');
  t.is(await code(b.query('fast.example', 'TXT')), 'BUDGET');
  b.dispose();
});

test('one combined signal per message; a caller signal other than the message signal still aborts its lookup', async (t) => {
  const dns = lookup();
  const message = new AbortController();
  const b = budgetedLookup(dns, { timeMs: 10_000, maxQueries: 100 }, { signal: message.signal });
  await b.query('a.example', 'A');
  await b.query('b.example', 'A', { signal: message.signal });
  t.is(dns.signals[0], dns.signals[1], 'the message signal passed again is not joined a second time');
  const own = new AbortController();
  const waiting = code(b.query('slow.example', 'TXT', { signal: own.signal }));
  own.abort();
  t.is(await waiting, 'ABORTED');
  t.not(dns.signals[2], dns.signals[0]);
  // The message ends: a lookup in flight is aborted, later ones refused.
  const inFlight = code(b.query('slow.other.example', 'TXT'));
  message.abort();
  t.is(await inFlight, 'ABORTED');
  t.is(await code(b.query('c.example', 'A')), 'ABORTED');
  b.dispose();
  t.is(await code(b.query('d.example', 'A')), 'ABORTED');
});
