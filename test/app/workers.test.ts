/** `workers: auto` (issue 14): one worker per core; anything else than auto or 1–64 is reported with its key. */
import test from 'ava';
import { availableParallelism } from 'node:os';
import { resolveWorkers } from '../../src/app/cluster.ts';
import { decodeConfig } from '../../src/config/load.ts';

test('auto is the number of cores; a number is itself', (t) => {
  t.is(resolveWorkers('auto'), Math.min(64, availableParallelism()));
  t.is(resolveWorkers(3), 3);
});

test('milter.workers: auto or 1..64 in the config file', (t) => {
  t.is(decodeConfig({ milter: { workers: 'auto' } }).config.milter.workers, 'auto');
  t.is(decodeConfig({ milter: { workers: 4 } }).config.milter.workers, 4);
  for (const bad of ['many', 0, 65]) {
    const r = decodeConfig({ milter: { workers: bad } });
    t.true(r.issues.some((i) => i.path === 'milter.workers'), JSON.stringify(r.issues));
  }
});
