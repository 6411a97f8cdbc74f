import test from 'ava';
import { decide, type LifecycleKey, type PublicationObservation } from '../../src/keys/lifecycle.ts';

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
