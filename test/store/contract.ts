/**
 * The store contract: one suite, run against every adapter (test/store/sqlite.test.ts,
 * test/store/postgres.test.ts). `open()` gives a fresh, empty store each call; `second(s)`
 * another connection (pool) to the same database, as a second host would have.
 */
import type { TestFn } from 'ava';
import { generateKey } from '../../src/keys/generate.ts';
import type { NewKey } from '../../src/keys/key-store.ts';
import type { Store } from '../../src/store/store.ts';
import type { DmarcEvaluation } from '../../src/inbound/evaluation-log.ts';
import { DAY, evaluation, T0 } from '../reports/evaluations.ts';

export interface ContractTarget {
  readonly name: string;
  /** A fresh empty store (not migrated). */
  open(): Promise<Store>;
  /** Another connection to the database `s` is on. */
  second(s: Store): Promise<Store>;
}

const ed = generateKey('ed25519-sha256');
const key = (over: Partial<NewKey> = {}): NewKey => ({ id: 'k1', domain: 'example.test', selector: 's1', algorithm: 'ed25519-sha256', state: 'generated', createdAt: 100, privateKeyPem: ed.privateKeyPem, publicKeyPem: ed.publicKeyPem, ...over });

export function storeContract(test: TestFn, target: ContractTarget): void {
  const t0 = `${target.name} contract`;
  const fresh = async (): Promise<Store> => {
    const s = await target.open();
    await s.migrate();
    return s;
  };

  test(`${t0}: migrations are versioned, explicit and idempotent`, async (t) => {
    const s = await target.open();
    try {
      t.true((await s.schema()).every((f) => f.current === 0), 'nothing before migrate()');
      const first = await s.migrate();
      t.deepEqual(first.map((m) => m.feature).sort(), ['dmarc_evaluations', 'dmarc_reports', 'keys', 'received_reports']);
      t.true(first.every((m) => m.from === 0 && m.to > 0));
      t.deepEqual(await s.migrate(), [], 'a second run applies nothing');
      t.true((await s.schema()).every((f) => f.current === f.wanted && f.wanted > 0));
    } finally {
      await s.close();
    }
  });

  test(`${t0}: keys — insert, list, active keys, a selector never reused, replacing a removed key, the generation moves on every change`, async (t) => {
    const s = await fresh();
    try {
      const g0 = await s.keys.generation();
      await s.keys.insert(key());
      const g1 = await s.keys.generation();
      t.true(g1 > g0);
      await t.throwsAsync(s.keys.insert(key({ id: 'k2' })), undefined, 'same (domain, selector)');
      await s.keys.insert(key({ id: 'k3', selector: 's3', createdAt: 200 }));
      await s.keys.insert(key({ id: 'o1', domain: 'other.test', selector: 's1', createdAt: 50 }));
      t.deepEqual((await s.keys.list()).map((k) => k.id), ['o1', 'k1', 'k3'], 'ordered by creation');
      t.deepEqual((await s.keys.list('example.test')).map((k) => k.id), ['k1', 'k3']);
      t.like((await s.keys.list('example.test'))[0], { state: 'generated', stateSince: 100, createdAt: 100, privateKeyPem: ed.privateKeyPem });
      t.is((await s.keys.list('example.test'))[0]!.seenEverywhereAt, undefined);

      await s.keys.apply([{ id: 'k1', state: 'active' }, { id: 'k3', seenEverywhereAt: 150 }], 300);
      t.true((await s.keys.generation()) > g1);
      t.deepEqual((await s.keys.listActive()).map((k) => k.id), ['k1']);
      t.like((await s.keys.list('example.test'))[1], { id: 'k3', state: 'generated', seenEverywhereAt: 150 });
      t.like((await s.keys.list('example.test'))[0], { id: 'k1', state: 'active', stateSince: 300 });
      await s.keys.apply([{ id: 'k3', seenEverywhereAt: null }], 301);
      t.is((await s.keys.list('example.test'))[1]!.seenEverywhereAt, undefined, 'null clears the mark');

      await t.throwsAsync(s.keys.insert(key({ id: 'k4', selector: 's1' }), { replacingRemoved: 'k1' }), { message: /not a removed key/ });
      t.is((await s.keys.list('example.test')).length, 2, 'nothing changed by the refused insert');
      await s.keys.apply([{ id: 'k1', state: 'removed' }], 400);
      await s.keys.insert(key({ id: 'k4', selector: 's1', createdAt: 500 }), { replacingRemoved: 'k1' });
      t.deepEqual((await s.keys.list('example.test')).map((k) => k.id), ['k3', 'k4']);
    } finally {
      await s.close();
    }
  });

  test(`${t0}: lease — one holder at a time, renew, release, expiry, a stale holder taken over`, async (t) => {
    const s = await fresh();
    try {
      t.true(await s.lease.acquire('keys:a', 'h1', 1000, 100));
      t.true(await s.lease.acquire('keys:a', 'h1', 1010, 100), 'the holder may take it again');
      t.false(await s.lease.acquire('keys:a', 'h2', 1050, 100));
      t.true(await s.lease.acquire('keys:b', 'h2', 1050, 100), 'another name is independent');
      t.true(await s.lease.renew('keys:a', 'h1', 1100, 100));
      t.false(await s.lease.acquire('keys:a', 'h2', 1150, 100), 'renewed: still held');
      t.false(await s.lease.renew('keys:a', 'h2', 1150, 100), 'only the holder renews');
      t.true(await s.lease.acquire('keys:a', 'h2', 1201, 100), 'expired: taken over');
      t.false(await s.lease.renew('keys:a', 'h1', 1202, 100), 'the old holder lost it');
      await s.lease.release('keys:a', 'h1');
      t.false(await s.lease.acquire('keys:a', 'h3', 1203, 100), 'a release by a non-holder does nothing');
      await s.lease.release('keys:a', 'h2');
      t.true(await s.lease.acquire('keys:a', 'h3', 1204, 100));
      t.true(await s.lease.acquire('keys:a', 'h4', 1205, 100, (h) => h === 'h3'), 'a holder declared stale is taken over');
      t.false(await s.lease.acquire('keys:a', 'h5', 1206, 100, () => false));
    } finally {
      await s.close();
    }
  });

  test(`${t0}: a write fenced by a lease commits only while the lease is held`, async (t) => {
    const s = await fresh();
    try {
      await s.keys.insert(key());
      await s.lease.acquire('keys:example.test', 'h1', 1000, 100);
      await s.keys.apply([{ id: 'k1', state: 'published' }], 1010, { fence: { name: 'keys:example.test', holder: 'h1', now: 1010 } });
      t.is((await s.keys.list())[0]!.state, 'published');
      await t.throwsAsync(s.keys.apply([{ id: 'k1', state: 'active' }], 1020, { fence: { name: 'keys:example.test', holder: 'h2', now: 1020 } }), { message: /no longer ours/ });
      await t.throwsAsync(s.keys.apply([{ id: 'k1', state: 'active' }], 1200, { fence: { name: 'keys:example.test', holder: 'h1', now: 1200 } }), { message: /no longer ours/ }, 'expired');
      await t.throwsAsync(s.keys.insert(key({ id: 'k2', selector: 's2' }), { fence: { name: 'keys:none', holder: 'h1', now: 1 } }), { message: /no longer ours/ });
      t.deepEqual((await s.keys.list()).map((k) => [k.id, k.state]), [['k1', 'published']], 'nothing committed by a fenced-off write');
    } finally {
      await s.close();
    }
  });

  test(`${t0}: two connections take one lease at once: exactly one gets it`, async (t) => {
    const a = await fresh();
    const b = await target.second(a);
    try {
      for (let round = 0; round < 5; round++) {
        const name = `keys:race${round}`;
        const got = await Promise.all([a.lease.acquire(name, 'ha', 1000, 60_000), b.lease.acquire(name, 'hb', 1000, 60_000)]);
        t.is(got.filter(Boolean).length, 1, `round ${round}: ${got}`);
      }
    } finally {
      await b.close();
      await a.close();
    }
  });

  test(`${t0}: evaluations — a batch through the sink, read back by period and policy domain, summarised, pruned`, async (t) => {
    const s = await fresh();
    try {
      const sink = s.openEvaluationSink();
      await sink.insertBatch([
        evaluation({ receivedAt: T0 + 1000 }),
        evaluation({ receivedAt: T0 + 2000, domain: 'other.test' }),
        withoutPolicy(evaluation({ receivedAt: T0 + 3000 })), // dmarc=none: nothing to report to
        evaluation({ receivedAt: T0 + DAY + 1 }),
      ]);
      await sink.insertBatch([]);
      await sink.close();
      const all = await s.evaluations.list({ from: T0, to: T0 + DAY });
      t.deepEqual(all.rows.map((r) => r.evaluation.receivedAt), [T0 + 1000, T0 + 2000]);
      t.deepEqual(all.bad, []);
      t.true(all.rows[0]!.id < all.rows[1]!.id);
      t.deepEqual(all.rows[0]!.evaluation, evaluation({ receivedAt: T0 + 1000 }), 'the evaluation as written');
      t.deepEqual((await s.evaluations.list({ from: 0, to: T0 + 2 * DAY, policyDomain: 'other.test' })).rows.map((r) => r.evaluation.headerFrom), ['other.test']);
      t.like(await s.evaluations.summary(), { count: 4, first: T0 + 1000, last: T0 + DAY + 1 });
      t.is(await s.evaluations.prune(T0 + DAY), 3);
      t.like(await s.evaluations.summary(), { count: 1 });
    } finally {
      await s.close();
    }
  });

  test(`${t0}: ledger — one report per (domain, period), deliveries claimed once, states, suppressions, bounces, pruning`, async (t) => {
    const s = await fresh();
    const L = s.ledger;
    try {
      const report = (id: string, begin: number) => ({
        reportId: id, policyDomain: 'example.test', beginAt: begin, endAt: begin + 86_400, fileName: `${id}.xml.gz`, messageCount: 3, recordCount: 2,
        xmlGz: Buffer.from([0x1f, 0x8b, 1, 2, 3]),
        deliveries: [{ address: 'a@example.test', uri: 'mailto:a@example.test', state: 'pending' as const }, { address: 'b@x.test', uri: 'https://x.test', state: 'skipped' as const, reason: 'not mailto' }],
      });
      t.true(await L.insertReport(report('r1', 1000), 5000));
      t.false(await L.insertReport(report('r2', 1000), 5001), 'same (domain, period start): the first stands');
      t.deepEqual((await L.listReports()).map((r) => [r.reportId, r.createdAt, r.messageCount]), [['r1', 5000, 3]]);
      t.deepEqual(await L.reportXmlGz('r1'), Buffer.from([0x1f, 0x8b, 1, 2, 3]));
      t.is(await L.reportXmlGz('nope'), undefined);
      t.deepEqual([...(await L.reportedUntil())], [['example.test', (1000 + 86_400) * 1000]]);
      t.deepEqual((await L.listDeliveries({ state: 'pending' })).map((d) => d.address), ['a@example.test']);
      t.like((await L.listDeliveries()).find((d) => d.address === 'b@x.test'), { state: 'skipped', reason: 'not mailto', attempts: 0, sentAt: null });

      t.true(await L.claimDelivery('r1', 'a@example.test', 6000, 100));
      t.false(await L.claimDelivery('r1', 'a@example.test', 6050, 100), 'claimed: nobody else');
      await L.markFailed('r1', 'a@example.test', 6060, '451 try later');
      t.like((await L.listDeliveries())[0], { state: 'pending', attempts: 1, reason: '451 try later' });
      t.true(await L.claimDelivery('r1', 'a@example.test', 6070, 100), 'a failure releases the claim');
      await L.markSent('r1', 'a@example.test', 6080, '250 ok');
      t.like((await L.listDeliveries())[0], { state: 'sent', attempts: 2, sentAt: 6080, reason: '250 ok' });
      t.false(await L.claimDelivery('r1', 'a@example.test', 9999, 100), 'sent: never claimed again');

      await L.addSuppression('Evil@X.test', 'by hand', 1);
      await L.addSuppression('evil@x.test', 'again', 2);
      t.deepEqual(await L.listSuppressions(), [{ entry: 'evil@x.test', reason: 'by hand', addedAt: 1 }]);
      t.is(await L.recordBounce('Bad@Y.test', 10, 'no such user'), 1);
      t.is(await L.recordBounce('bad@y.test', 11, 'still no'), 2);
      t.deepEqual(await L.listBounces(), [{ address: 'bad@y.test', count: 2, lastAt: 11, lastReason: 'still no' }]);
      await L.addSuppression('bad@y.test', 'bounced', 12);
      t.true(await L.removeSuppression('BAD@y.test'));
      t.false(await L.removeSuppression('bad@y.test'));
      t.deepEqual(await L.listBounces(), [], 'unsuppressing forgets the bounces');

      t.true(await L.insertReport(report('r3', 2000), 5000));
      await L.markSkipped('r3', 'a@example.test', 5001, 'suppressed');
      t.true(await L.insertReport(report('r4', 3000), 5000));
      t.is(await L.pruneReports(5001), 2, 'settled reports go; r4 still has a pending delivery');
      t.deepEqual((await L.listReports()).map((r) => r.reportId), ['r4']);
      t.deepEqual((await L.listDeliveries()).map((d) => d.reportId), ['r4', 'r4'], 'deliveries went with their reports');
    } finally {
      await s.close();
    }
  });

  test(`${t0}: two connections at once — one report per period, each delivery claimed by exactly one`, async (t) => {
    const a = await fresh();
    const b = await target.second(a);
    try {
      const mk = (id: string) => ({ reportId: id, policyDomain: 'race.test', beginAt: 0, endAt: 86_400, fileName: 'f', messageCount: 1, recordCount: 1, xmlGz: Buffer.from('x'), deliveries: [{ address: 'r@race.test', uri: 'mailto:r@race.test', state: 'pending' as const }] });
      const inserted = await Promise.all([a.ledger.insertReport(mk('ra'), 1), b.ledger.insertReport(mk('rb'), 1)]);
      t.is(inserted.filter(Boolean).length, 1);
      const id = (await a.ledger.listReports())[0]!.reportId;
      for (let round = 0; round < 5; round++) {
        const now = 1000 * (round + 1);
        const claims = await Promise.all([a.ledger.claimDelivery(id, 'r@race.test', now, 500), b.ledger.claimDelivery(id, 'r@race.test', now, 500)]);
        t.is(claims.filter(Boolean).length, 1, `round ${round}`);
      }
    } finally {
      await b.close();
      await a.close();
    }
  });
}

function withoutPolicy(ev: DmarcEvaluation): DmarcEvaluation {
  const { policy: _p, ...rest } = ev;
  void _p;
  return rest;
}
