/**
 * `--workers 2` while a worker is killed (SIGKILL) every 2.5 s, under continuous load
 * (issue 16, and issue 14's listeners each worker owns): sessions on the other worker
 * complete, at least one worker is always serving (probes every 100 ms never fail for
 * longer than a moment around a kill), and the killed one is back within the capped
 * back-off. Each session's test header names the worker process that served it.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MilterClient, sendMessage, type SimpleMessage } from '../../src/milter/mta-client.ts';
import { TEST_HEADER } from '../../src/milter/test-header-filter.ts';
import { startMilterProcess, type MilterProcess } from '../support/milter-process.ts';

const message: SimpleMessage = { from: 'a@example.test', rcpts: ['b@example.test'], headers: [['Subject', ' hi']], body: Buffer.from('hello\r\n') };
let dir = '';
let milter: MilterProcess;

test.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mailanchor-kill-'));
  writeFileSync(join(dir, 'mailanchor.yml'), ['milter:', '  workers: 2', '  drain_timeout: 2s', 'log:', '  format: json', '  level: warn', 'store:', `  path: ${join(dir, 'store.db')}`, ''].join('\n'));
  milter = await startMilterProcess(['--config', join(dir, 'mailanchor.yml'), '--filter', 'test-header']);
});
test.after.always(async () => {
  await milter?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const workers = (): number[] => {
  try {
    return execFileSync('pgrep', ['-P', String(milter.child.pid)], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
};

interface Outcome {
  readonly start: number;
  readonly end: number;
  /** pid of the worker that served it (from the header's session id), or undefined: failed. */
  readonly pid?: number;
  readonly error?: string;
}

async function session(): Promise<Outcome> {
  const start = Date.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    const r = await Promise.race([
      (async () => {
        const c = await MilterClient.connect(`inet:127.0.0.1:${milter.port}`);
        try {
          await c.negotiate();
          const out = await sendMessage(c, message);
          c.quit();
          const h = out.eom?.modifications.find((m) => m.kind === 'add-header' && m.name === TEST_HEADER);
          return h && 'value' in h ? parseInt(h.value.trim().split('.')[0]!, 36) : undefined;
        } finally {
          c.destroy();
        }
      })(),
      new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), 5000))),
    ]);
    return { start, end: Date.now(), ...(r !== undefined ? { pid: r } : {}) };
  } catch (err) {
    return { start, end: Date.now(), error: (err as Error).message };
  } finally {
    clearTimeout(timer);
  }
}

test('a worker SIGKILLed every 2.5 s under load: the other one keeps serving, sessions on it complete, one is always serving', async (t) => {
  t.timeout(60_000);
  for (let i = 0; i < 50 && workers().length < 2; i++) await new Promise((r) => setTimeout(r, 100));
  const kills: Array<{ at: number; pid: number }> = [];
  const outcomes: Outcome[] = [];
  const probes: Outcome[] = [];
  let running = true;
  const load = Array.from({ length: 4 }, async () => {
    while (running) outcomes.push(await session());
  });
  const prober = (async () => {
    while (running) {
      probes.push(await session());
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  /** Both live workers have served a session since `since`: both are listening. */
  const bothServing = (since: number): boolean => {
    const live = workers();
    const served = new Set(outcomes.filter((o) => o.end >= since && o.pid !== undefined).map((o) => o.pid));
    return live.length === 2 && live.every((p) => served.has(p));
  };
  for (let k = 0; k < 5; k++) {
    await new Promise((r) => setTimeout(r, 2500));
    // Kill one only while the other serves: the test is about never being left with none,
    // not about killing faster than a worker can start.
    const since = Date.now();
    for (let i = 0; i < 100 && !bothServing(since); i++) await new Promise((r) => setTimeout(r, 100));
    const ws = workers();
    const victim = ws[k % ws.length]!;
    kills.push({ at: Date.now(), pid: victim });
    process.kill(victim, 'SIGKILL');
  }
  await new Promise((r) => setTimeout(r, 2500));
  running = false;
  await Promise.all([...load, prober]);

  const killed = new Set(kills.map((k) => k.pid));
  const ok = outcomes.filter((o) => o.pid !== undefined);
  const failed = outcomes.filter((o) => o.pid === undefined);
  const why: Record<string, number> = {};
  for (const f of failed) why[f.error ?? 'timeout or no header'] = (why[f.error ?? 'timeout or no header'] ?? 0) + 1;
  t.log(`failures: ${JSON.stringify(why)}`);
  t.log(`${outcomes.length} sessions, ${failed.length} failed; ${probes.length} probes, ${probes.filter((p) => p.pid === undefined).length} failed; kills at +${kills.map((k) => k.at - kills[0]!.at).join(', +')} ms`);
  t.true(ok.length > 100, `${ok.length} sessions served`);
  // A failed session was running when a worker died: it started before a kill and ended after it.
  const nearKill = (o: Outcome): boolean => kills.some((k) => o.start <= k.at + 1000 && o.end >= k.at);
  t.deepEqual(failed.filter((o) => !nearKill(o)), [], 'no session failed away from a kill: those on the other worker completed');
  t.true(failed.length <= kills.length * 4 + 4, `${failed.length} failures for ${kills.length} kills`);
  // Always one serving: between two successful probes there is never more than a moment.
  const served = probes.filter((p) => p.pid !== undefined).map((p) => p.end);
  let longest = 0;
  for (let i = 1; i < served.length; i++) longest = Math.max(longest, served[i]! - served[i - 1]!);
  t.log(`longest gap between successful probes: ${longest} ms`);
  t.true(longest < 1500, `longest gap without a serving worker: ${longest} ms`);
  t.true(ok.some((o) => !killed.has(o.pid!)), 'served by a worker that was never killed');
  t.is(workers().length, 2, 'both slots filled again');
  t.regex(milter.output(), /milter worker died; restarting it/);
});
