import test from 'ava';
import { decide, decideImport, decideRetire, nextStep, type LifecycleKey, type PublicationObservation } from '../../src/keys/lifecycle.ts';

const DAY = 86_400_000;
const policy = { lifetimeMs: 180 * DAY, retirePeriodMs: 7 * DAY, ttlMarginMs: 60_000, recordTtlSeconds: 300 };
const all: PublicationObservation = { ttlSeconds: 300, servers: [{ server: 'ns1', status: 'match' }, { server: 'ns2', status: 'match' }] };
const partial: PublicationObservation = { ttlSeconds: 300, servers: [{ server: 'ns1', status: 'match' }, { server: 'ns2', status: 'error', detail: 'timeout' }] };
const types = (d: ReturnType<typeof decide>) => d.actions.map((a) => a.type);

test('no key at all: generate', (t) => {
  t.deepEqual(types(decide([], new Map(), 0, policy)), ['generate']);
});

test('generated: publish, no new generate', (t) => {
  t.deepEqual(types(decide([{ id: 'a', state: 'generated', stateSince: 0 }], new Map(), 0, policy)), ['publish']);
});

test('published but seen on 1 of 2 servers: waits with a clear status, never activates', (t) => {
  const k: LifecycleKey = { id: 'a', state: 'published', stateSince: 0, seenEverywhereAt: 0 };
  const d = decide([k], new Map([['a', partial]]), 10 * DAY, policy);
  t.deepEqual(types(d), ['clear-seen']);
  t.is(d.waiting.get('a'), 'seen on 1 of 2 nameservers; ns2: timeout');
});

test('published, seen everywhere: marks, waits TTL + margin, then activates and retires old', (t) => {
  const old: LifecycleKey = { id: 'old', state: 'active', stateSince: 0 };
  const k: LifecycleKey = { id: 'a', state: 'published', stateSince: 0 };
  const obs = new Map([['a', all]]);
  t.deepEqual(types(decide([old, k], obs, 1000, policy)), ['mark-seen']);
  const seen = { ...k, seenEverywhereAt: 1000 };
  t.deepEqual(types(decide([old, seen], obs, 1000 + 300_000 + 59_999, policy)), []);
  t.deepEqual(types(decide([old, seen], obs, 1000 + 300_000 + 60_000, policy)), ['activate', 'retire']);
});

test('retired → revoked only after the retire period; revoked → removed after TTL', (t) => {
  const active: LifecycleKey = { id: 'x', state: 'active', stateSince: 0 };
  t.deepEqual(types(decide([active, { id: 'r', state: 'retired', stateSince: 0 }], new Map(), 7 * DAY - 1, policy)), []);
  t.deepEqual(types(decide([active, { id: 'r', state: 'retired', stateSince: 0 }], new Map(), 7 * DAY, policy)), ['revoke']);
  t.deepEqual(types(decide([active, { id: 'v', state: 'revoked', stateSince: 0 }], new Map(), 300_000 + 59_999, policy)), []);
  t.deepEqual(types(decide([active, { id: 'v', state: 'revoked', stateSince: 0 }], new Map(), 360_000, policy)), ['remove']);
});

test('rotation due after lifetime or on demand, not before', (t) => {
  const active: LifecycleKey = { id: 'x', state: 'active', stateSince: 0 };
  t.deepEqual(types(decide([active], new Map(), 180 * DAY - 1, policy)), []);
  t.deepEqual(types(decide([active], new Map(), 180 * DAY, policy)), ['generate']);
  t.deepEqual(types(decide([active], new Map(), 1, policy, { rotateNow: true })), ['generate']);
});

// ---- nextStep (the metrics' "seconds until the next step"), manual retire and import.

test('nextStep: the earliest of the steps decide will take, from the same rules', (t) => {
  const now = 100 * DAY;
  t.deepEqual(nextStep([], policy, now), { step: 'generate', at: now });
  t.deepEqual(nextStep([{ id: 'a', state: 'active', stateSince: 10 * DAY }], policy, now), { step: 'rotate', at: 190 * DAY });
  // A pending key suppresses the rotation (decide generates nothing while one waits).
  t.deepEqual(nextStep([{ id: 'a', state: 'active', stateSince: 0 }, { id: 'b', state: 'published', stateSince: now }], policy, now), { step: 'wait-dns', at: now + 300_000 + 60_000 });
  t.deepEqual(nextStep([{ id: 'b', state: 'published', stateSince: 0, seenEverywhereAt: now }], policy, now), { step: 'activate', at: now + 360_000 });
  t.deepEqual(nextStep([{ id: 'a', state: 'active', stateSince: 90 * DAY }, { id: 'o', state: 'retired', stateSince: 95 * DAY }], policy, now), { step: 'revoke', at: 102 * DAY });
  t.deepEqual(nextStep([{ id: 'a', state: 'active', stateSince: 90 * DAY }, { id: 'o', state: 'revoked', stateSince: now }], policy, now), { step: 'remove', at: now + 360_000 });
  // Overdue: a key published a day ago that DNS never showed.
  const late = nextStep([{ id: 'b', state: 'published', stateSince: now - DAY }], policy, now);
  t.true(late.at < now);
});

test('nextStep agrees with decide: at the step time decide acts, a millisecond before it does not', (t) => {
  const cases: LifecycleKey[][] = [
    [{ id: 'a', state: 'active', stateSince: 0 }],
    [{ id: 'a', state: 'active', stateSince: 50 * DAY }, { id: 'o', state: 'retired', stateSince: 60 * DAY }],
    [{ id: 'a', state: 'active', stateSince: 50 * DAY }, { id: 'o', state: 'revoked', stateSince: 60 * DAY }],
    [{ id: 'a', state: 'active', stateSince: 0 }, { id: 'b', state: 'published', stateSince: DAY, seenEverywhereAt: 2 * DAY }],
  ];
  for (const keys of cases) {
    const s = nextStep(keys, policy, 0);
    const obs = new Map(keys.filter((k) => k.state === 'published').map((k) => [k.id, all]));
    const acts = (at: number) => decide(keys, obs, at, policy).actions.filter((a) => a.type !== 'mark-seen').length;
    t.is(acts(s.at - 1), 0, `${s.step} not before its time`);
    t.true(acts(s.at) > 0, `${s.step} at its time`);
  }
});

test('decideRetire: active or published only; says when no active key is left', (t) => {
  const keys = [{ id: 'a', state: 'active' as const, stateSince: 0, selector: 'sa' }, { id: 'b', state: 'published' as const, stateSince: 0, selector: 'sb' }, { id: 'r', state: 'retired' as const, stateSince: 0, selector: 'sr' }, { id: 'g', state: 'generated' as const, stateSince: 0, selector: 'sg' }];
  t.like(decideRetire(keys, 'a'), { ok: true, leavesNoActive: true, actions: [{ type: 'retire', keyId: 'a' }] });
  t.like(decideRetire(keys, 'b'), { ok: true, leavesNoActive: false });
  t.like(decideRetire(keys, 'r'), { ok: false, reason: 'sr is retired; only active or published keys can be retired' });
  t.like(decideRetire(keys, 'g'), { ok: false });
  t.like(decideRetire(keys, 'x'), { ok: false, reason: 'no such key' });
  t.like(decideRetire([...keys, { id: 'a2', state: 'active', stateSince: 1, selector: 'sa2' }], 'a'), { ok: true, leavesNoActive: false });
});

test('decideImport: active only when every nameserver serves it; never over keys the store holds', (t) => {
  t.deepEqual(decideImport([], all), { kind: 'active' });
  const p = decideImport([], partial);
  t.is(p.kind, 'published');
  t.regex((p as { reason: string }).reason, /seen on 1 of 2 nameservers; ns2: timeout/);
  t.is(decideImport([], { ttlSeconds: 0, servers: [] }).kind, 'published', 'no nameserver answered at all');
  t.like(decideImport([{ id: 'x', state: 'active', stateSince: 0, selector: 'ma20260101r' }], all), { kind: 'refused' });
  t.deepEqual(decideImport([{ id: 'x', state: 'removed', stateSince: 0, selector: 'gone' }], all), { kind: 'active' }, 'a removed key is history');
});
