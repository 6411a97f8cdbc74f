import test from 'ava';
import { deployVerdict, emptyState, observe, planRollover, servedEverywhere, type TlsaObservation } from '../../src/dane/rollover.ts';
import type { Tlsa } from '../../src/dane/tlsa-params.ts';

const rec = (n: number, usage = 3): Tlsa => ({ usage, selector: 1, matchingType: 1, data: Buffer.alloc(32, n) });
const cur = rec(1);
const nxt = rec(2);
const ok = (server: string, records: Tlsa[], ttl = 300): TlsaObservation => ({ server, ok: true, records, ttl });
const OWNER = '_25._tcp.mx.example.org.';
const T0 = Date.parse('2026-01-01T00:00:00Z');

test('servedEverywhere: intersection; a failed server means nothing is everywhere', (t) => {
  t.deepEqual(servedEverywhere([ok('a', [cur, nxt]), ok('b', [cur])]), [cur]);
  t.deepEqual(servedEverywhere([ok('a', [cur]), { server: 'b', ok: false, error: 'TIMEOUT' }]), []);
  t.deepEqual(servedEverywhere([]), []);
});

test('rollover steps with an injected clock: never deploy before everywhere + 2 × TTL', (t) => {
  let state = emptyState(OWNER);
  const step = (obs: TlsaObservation[], now: number) => {
    const r = planRollover(state, { inService: [cur], next: [nxt], observations: obs, ttlSec: 300, smtp: true }, now);
    state = r.state;
    return r.plan;
  };
  let p = step([ok('a', [cur]), ok('b', [cur])], T0);
  t.is(p.phase, 'publish-next');
  t.deepEqual(p.publish, [cur, nxt]);
  t.deepEqual(p.add, [nxt]);
  t.false(p.deploy!.safe);
  // Primary has it, secondary lags: still not safe, however long we wait.
  for (const dt of [60_000, 3_600_000, 86_400_000]) {
    p = step([ok('a', [cur, nxt]), ok('b', [cur])], T0 + dt);
    t.is(p.phase, 'publish-next');
    t.false(p.deploy!.safe);
  }
  const seen = T0 + 86_400_000 + 1000;
  p = step([ok('a', [cur, nxt]), ok('b', [cur, nxt])], seen);
  t.is(p.phase, 'wait');
  t.false(p.deploy!.safe);
  t.is(p.deploy!.safe ? 0 : p.deploy!.safeAt, seen + 600_000);
  p = step([ok('a', [cur, nxt]), ok('b', [cur, nxt])], seen + 599_999);
  t.is(p.phase, 'wait');
  // A server drops it again: the clock restarts.
  p = step([ok('a', [cur, nxt]), ok('b', [cur])], seen + 599_999);
  t.is(p.phase, 'publish-next');
  p = step([ok('a', [cur, nxt]), ok('b', [cur, nxt])], seen + 700_000);
  t.is(p.phase, 'wait');
  p = step([ok('a', [cur, nxt]), ok('b', [cur, nxt])], seen + 700_000 + 600_000);
  t.is(p.phase, 'deploy-next');
  t.true(p.deploy!.safe);
  // Next certificate in service: the old record may go.
  const r = planRollover(state, { inService: [nxt], next: [], observations: [ok('a', [cur, nxt]), ok('b', [cur, nxt])], ttlSec: 300, smtp: true }, seen + 2_000_000);
  t.is(r.plan.phase, 'retire-old');
  t.deepEqual(r.plan.publish, [nxt]);
  t.deepEqual(r.plan.remove, [cur]);
});

test('the larger of configured TTL and the TTL served sets the wait', (t) => {
  let s = observe(emptyState(OWNER), [ok('a', [cur, nxt], 7200)], T0);
  t.is(s.maxTtlSeen, 7200);
  const v = deployVerdict(s, { records: [nxt], smtp: true }, 300, T0 + 600_000);
  t.false(v.safe);
  t.is(v.safe ? 0 : v.safeAt, T0 + 4 * 3_600_000);
  s = observe(s, [ok('a', [cur, nxt], 7200)], T0 + 4 * 3_600_000);
  t.true(deployVerdict(s, { records: [nxt], smtp: true }, 300, T0 + 4 * 3_600_000).safe);
});
