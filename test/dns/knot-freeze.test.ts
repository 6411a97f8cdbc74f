/**
 * The harness's "DNS down" (knot.freeze()) must be down when it returns: the flaky
 * `inbound › edge-cases › DNS down with on_temperror = accept` got spf=fail because a query
 * sent right after SIGSTOP was still answered by a knotd thread the stop had not reached
 * (the DKIM query, a moment later, timed out as expected).
 */
import test from 'ava';
import { queryServer } from '../../src/dns/client.ts';
import { threadStates } from '../support/job-control.ts';
import { knotMissing, startKnot } from '../support/knot.ts';

const missing = knotMissing();
const it = missing ? test.skip : test;
if (missing) test.skip(`knot freeze: ${missing}`, () => {});

it('after await freeze() every knotd thread is stopped and no query is answered; after await thaw() it answers at once', async (t) => {
  const knot = await startKnot({ zones: [{ name: 'frozen.test', records: '@ IN TXT "up"' }] });
  try {
    let answered = 0;
    for (let i = 0; i < 40; i++) {
      await knot.freeze();
      try {
        await queryServer(knot.server, 'frozen.test', 'TXT', { timeoutMs: 80 });
        answered++;
      } catch {
        // the timeout we want
      } finally {
        await knot.thaw();
      }
      const up = await queryServer(knot.server, 'frozen.test', 'TXT', { timeoutMs: 5000 });
      t.is(up.records.length, 1);
    }
    t.is(answered, 0, 'queries answered while frozen');
  } finally {
    await knot.stop();
  }
});

test('threadStates reads every thread of a process and nothing once it is gone', (t) => {
  const states = threadStates(process.pid);
  t.true(states.length >= 1);
  t.true(states.every((s) => /^[RSDTtZXIWPK]$/.test(s)), states.join(''));
  t.deepEqual(threadStates(2 ** 22 + 12345), []);
});
