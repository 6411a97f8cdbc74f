/**
 * The seeded, structure-aware milter fuzzer (attack/milter-fuzz.ts) against the real
 * `mailanchor milter` process with the mail filter, on the hostile DNS server (REFUSED and
 * SERVFAIL for some sender domains, slow PTRs — the conditions of the second crash path,
 * EOH + EOM again after EOM while a DMARC lookup is REFUSED). Bounded for CI (FUZZ_SECONDS,
 * default 60 s): the process never exits, a good session completes after every batch, no
 * error reaches the process-level handler, the JS heap after a forced GC (inspector) is
 * back where it started, and RSS stays near its start (what malloc keeps is bounded).
 * A longer run by hand: `node attack/milter-fuzz.ts --self --seed 7 --minutes 12`.
 */
import test from 'ava';
import { goodSession, rssMiB, runFuzz, startSelf } from '../../attack/milter-fuzz.ts';

const SECONDS = Number(process.env['FUZZ_SECONDS'] ?? 60);
const SEED = Number(process.env['FUZZ_SEED'] ?? 20261201);

test('fuzzing the real milter: 0 process exits, a good session after each batch, RSS back near its start', async (t) => {
  t.timeout((SECONDS + 120) * 1000);
  const self = await startSelf({ inspect: true });
  try {
    for (let i = 0; i < 20; i++) t.true(await goodSession(self.target), 'warm-up');
    await new Promise((r) => setTimeout(r, 2000));
    const heapBefore = (await self.heapAfterGc()).heapUsedMiB;
    const before = rssMiB(self.pid);
    let peak = before;
    const report = await runFuzz({
      target: self.target,
      seed: SEED,
      durationMs: SECONDS * 1000,
      onBatch: (b) => {
        peak = Math.max(peak, rssMiB(self.pid));
        if (!b.good) t.fail(`good session failed after batch ${b.batch} (seed ${SEED}, sessions ${b.sessions})`);
        if (self.exited()) throw new Error(`the milter exited after batch ${b.batch}:\n${self.output().slice(-3000)}`);
      },
    });
    // Nothing the fuzz allocated may stay reachable: the heap after a full GC is back at its
    // start, and then so is RSS, within what malloc keeps (an idle Node runs no GC by itself,
    // so without the forced one RSS stays at the run's high-water mark: see docs/milter.md).
    await new Promise((r) => setTimeout(r, 3000));
    const heapAfter = (await self.heapAfterGc()).heapUsedMiB;
    const near = (rss: number): boolean => rss <= before + 48;
    const after = rssMiB(self.pid);
    t.log(`seed ${SEED}: ${report.sessions} sessions, ${report.frames} frames, ${(report.bytes / 1e6).toFixed(1)} MB in ${(report.ms / 1000).toFixed(0)} s; RSS ${before.toFixed(1)} → peak ${peak.toFixed(1)} → ${after.toFixed(1)} MiB; heap after GC ${heapBefore.toFixed(1)} → ${heapAfter.toFixed(1)} MiB`);
    t.false(self.exited(), 'the milter process is still running');
    t.is(report.goodFailures, 0);
    t.true(report.batches >= 5, `${report.batches} batches`);
    t.true(report.sessions >= 500, `${report.sessions} sessions`);
    t.true(Object.keys(report.mutations).length >= 15, 'every kind of mutation was tried');
    t.notRegex(self.output(), /error no code caught/);
    t.notRegex(self.output(), /filter failed/, 'no filter error: protocol errors close sessions before the filter sees them');
    t.true(heapAfter <= heapBefore + 8, `heap in use after GC: ${heapBefore.toFixed(1)} MiB before, ${heapAfter.toFixed(1)} MiB after`);
    t.true(near(after), `RSS ${before.toFixed(1)} MiB before, ${after.toFixed(1)} MiB after`);
    t.true(await goodSession(self.target));
  } finally {
    await self.stop();
  }
});
