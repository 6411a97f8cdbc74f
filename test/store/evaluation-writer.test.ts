/**
 * The evaluation writer with a fake sink: batches by size and by time, one batch in flight,
 * a bounded queue whose overflow is counted, retries after a failure, and shutdown that
 * flushes within a deadline and counts what it could not write.
 */
import test from 'ava';
import type { DmarcEvaluation } from '../../src/inbound/evaluation-log.ts';
import { createEvaluationWriter } from '../../src/store/evaluation-writer.ts';
import { evaluation, T0 } from '../reports/evaluations.ts';
import { captureLogger } from '../support/logger.ts';

function fakeSink(o: { delayMs?: number } = {}) {
  const batches: number[][] = [];
  let failing: Error | undefined;
  let inFlight = 0;
  let maxInFlight = 0;
  return {
    batches,
    maxInFlight: () => maxInFlight,
    fail: (e: Error | undefined) => (failing = e),
    sink: {
      async insertBatch(rows: readonly DmarcEvaluation[]) {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        try {
          await new Promise((r) => setTimeout(r, o.delayMs ?? 1));
          if (failing) throw failing;
          batches.push(rows.map((r) => r.receivedAt - T0));
        } finally {
          inFlight--;
        }
      },
      async close() {},
    },
  };
}

/** Polls `cond` (the machine may be loaded: no fixed sleeps for what must happen). */
async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 5));
  }
}

const evs = (n: number, from = 0) => Array.from({ length: n }, (_, i) => evaluation({ receivedAt: T0 + from + i }));

test('a few wait for flushMs; a full batch goes at once and the drain empties the queue; one batch at a time; order kept', async (t) => {
  const f = fakeSink({ delayMs: 5 });
  const { logger } = captureLogger();
  const w = createEvaluationWriter({ sink: f.sink, logger, location: 'fake', maxQueue: 1000, batchSize: 10, flushMs: 500 });
  const t0 = Date.now();
  for (const e of evs(3)) w.record(e);
  await new Promise((r) => setTimeout(r, 50));
  if (Date.now() - t0 < 450) t.deepEqual(f.batches, [], 'fewer than a batch: nothing before flushMs');
  await until(() => f.batches.length === 1);
  t.true(Date.now() - t0 >= 500, 'written after flushMs');
  t.deepEqual(f.batches, [[0, 1, 2]]);
  for (const e of evs(25, 3)) w.record(e);
  await until(() => w.stats().recorded === 28);
  t.deepEqual(f.batches.map((b) => b.length), [3, 10, 10, 5], 'full batches at once, then the rest in the same drain');
  t.deepEqual(f.batches.flat(), Array.from({ length: 28 }, (_, i) => i));
  t.is(f.maxInFlight(), 1);
  t.like(w.stats(), { recorded: 28, queued: 0, batches: 4, up: true });
  await w.close();
});

test('store down: queued up to maxQueue, the overflow dropped and counted, logged once; written after it returns', async (t) => {
  const f = fakeSink();
  const { logger, lines } = captureLogger();
  const w = createEvaluationWriter({ sink: f.sink, logger, location: 'postgresql://u@db/x', maxQueue: 50, batchSize: 20, flushMs: 5, backoffMs: 10, maxBackoffMs: 20 });
  f.fail(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
  for (const e of evs(80)) w.record(e);
  await until(() => w.stats().failedBatches >= 2);
  t.like(w.stats(), { queued: 50, recorded: 0, up: false, dropped: { queue_full: 30, shutdown: 0 } }, 'retried, still queued');
  t.is(lines.filter((l) => /not written/.test(String(l['message']))).length, 1, 'one log line per outage');
  t.is(lines.filter((l) => /dropped/.test(String(l['message']))).length, 1);
  f.fail(undefined);
  await until(() => w.stats().queued === 0);
  t.like(w.stats(), { queued: 0, recorded: 50, up: true });
  t.deepEqual(f.batches.flat(), Array.from({ length: 50 }, (_, i) => i), 'the first 50, in order');
  t.true(lines.some((l) => /written again/.test(String(l['message'])) && l['dropped_during_outage'] === 30));
  await w.close();
});

test('close: flushes what it can before the deadline; the rest is counted as dropped at shutdown', async (t) => {
  const ok = fakeSink();
  const { logger } = captureLogger();
  const w = createEvaluationWriter({ sink: ok.sink, logger, location: 'fake', maxQueue: 100, batchSize: 30, flushMs: 10_000 });
  for (const e of evs(45)) w.record(e);
  await w.close(1000);
  t.like(w.stats(), { recorded: 45, queued: 0, dropped: { queue_full: 0, shutdown: 0 } });
  w.record(evaluation());
  t.is(w.stats().dropped.shutdown, 1, 'after close: counted, not queued');

  const down = fakeSink();
  down.fail(new Error('down'));
  const { logger: l2, lines } = captureLogger();
  const w2 = createEvaluationWriter({ sink: down.sink, logger: l2, location: 'fake', maxQueue: 100, batchSize: 30, flushMs: 1, backoffMs: 10 });
  for (const e of evs(12)) w2.record(e);
  const started = Date.now();
  await w2.close(150);
  t.true(Date.now() - started < 1000, 'the deadline holds');
  t.like(w2.stats(), { recorded: 0, queued: 0, dropped: { shutdown: 12 } });
  t.true(lines.some((l) => /dropped at shutdown/.test(String(l['message'])) && l['dropped'] === 12));
});
