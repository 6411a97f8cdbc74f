/**
 * `milter.workers` > 1: the real CLI as a cluster primary with two worker processes sharing
 * one TCP listener and one unix socket; both serve, the metrics endpoint sums them, a killed
 * worker is replaced while the other keeps serving, SIGTERM ends every process.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MilterClient, sendMessage, type SimpleMessage } from '../../src/milter/mta-client.ts';
import { TEST_HEADER } from '../../src/milter/test-header-filter.ts';
import { startMilterProcess, type MilterProcess } from '../support/milter-process.ts';
import { freePort } from '../support/ports.ts';

const message: SimpleMessage = { from: 'a@example.test', rcpts: ['b@example.test'], headers: [['Subject', ' hi']], body: Buffer.from('hello\r\n'), macros: { eom: { i: 'Q1' } } };

let dir = '';
let milter: MilterProcess;
let metricsPort = 0;
const sock = (): string => join(dir, 'milter.sock');

test.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mailanchor-cluster-'));
  metricsPort = await freePort();
  writeFileSync(
    join(dir, 'mailanchor.yml'),
    [`milter:`, `  workers: 2`, `  drain_timeout: 2s`, `  listen:`, `    - unix:${sock()}`, `log:`, `  format: json`, `metrics:`, `  listen: 127.0.0.1:${metricsPort}`, `store:`, `  path: ${join(dir, 'store.db')}`, ''].join('\n'),
  );
  // --listen (added by the helper) replaces milter.listen: pass the socket again so both are used.
  milter = await startMilterProcess(['--config', join(dir, 'mailanchor.yml'), '--filter', 'test-header', '--listen', `unix:${sock()}`]);
});

test.after.always(async () => {
  await milter?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const workerPids = (): number[] => {
  try {
    return execFileSync('pgrep', ['-P', String(milter.child.pid)], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).map(Number);
  } catch {
    return []; // pgrep exits 1 when there are none
  }
};

async function oneMessage(target: string): Promise<boolean> {
  const attempt = (async () => {
    const c = await MilterClient.connect(target);
    await c.negotiate();
    const r = await sendMessage(c, message);
    c.quit();
    return Boolean(r.eom?.modifications.some((m) => m.kind === 'add-header' && m.name === TEST_HEADER));
  })();
  // A hang must fail the test, not stall the suite (Postfix has milter timeouts for this).
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer from ${target} in 10 s`)), 10_000)));
  try {
    return await Promise.race([attempt, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const served = (): Set<number> => {
  const workers = new Set<number>();
  for (const line of milter.output().split('\n')) {
    if (!line.startsWith('{')) continue;
    const l = JSON.parse(line) as Record<string, unknown>;
    if (l['message'] === 'message' && typeof l['worker'] === 'number') workers.add(l['worker']);
  }
  return workers;
};

test.serial('two workers share the TCP port and the unix socket; both serve; metrics are summed', async (t) => {
  t.is(workerPids().length, 2);
  t.true(existsSync(sock()));
  const targets = Array.from({ length: 40 }, (_, i) => (i % 2 ? `unix:${sock()}` : `inet:127.0.0.1:${milter.port}`));
  const results = await Promise.all(targets.map(oneMessage));
  t.true(results.every(Boolean), 'every message got the test header');
  await new Promise((r) => setTimeout(r, 200)); // let the summary lines reach the pipe
  t.deepEqual([...served()].sort(), [0, 1], 'connections were spread over both workers');
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const total = Number(/^mailanchor_milter_sessions_total (\d+)/m.exec(text)?.[1]);
  t.is(total, 40, 'sessions_total is the sum over the workers');
});

test.serial('a worker killed with SIGKILL is replaced while the other keeps serving; both killed are both replaced; SIGTERM stops all', async (t) => {
  const [victim, survivor] = workerPids();
  process.kill(victim!, 'SIGKILL');
  // Once the primary has seen the death (a connection handed over in that very instant is
  // lost; Postfix's milter timeouts cover it), the survivor serves while the replacement
  // waits out the restart back-off.
  for (let i = 0; i < 100 && !/milter worker died; restarting it/.test(milter.output()); i++) await new Promise((r) => setTimeout(r, 50));
  t.regex(milter.output(), /milter worker died; restarting it/);
  t.true(await oneMessage(`inet:127.0.0.1:${milter.port}`));
  t.true(await oneMessage(`unix:${sock()}`));
  let now: number[] = [];
  for (let i = 0; i < 100; i++) {
    now = workerPids();
    if (now.length === 2 && !now.includes(victim!)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  t.is(now.length, 2);
  t.true(now.includes(survivor!) && !now.includes(victim!), 'a new worker took the dead one\'s place');
  const results = await Promise.all(Array.from({ length: 10 }, () => oneMessage(`unix:${sock()}`)));
  t.true(results.every(Boolean));

  // Both at once: nothing serves for a moment, but the primary stays up and brings both back
  // at once (no back-off when no worker is left): serving again as soon as a worker has
  // started — about a second on an idle machine; the bound leaves room for a loaded one.
  const killedAt = Date.now();
  for (const pid of now) process.kill(pid, 'SIGKILL');
  let servingAgainMs: number | undefined;
  for (let i = 0; i < 100 && servingAgainMs === undefined; i++) {
    if (await oneMessage(`unix:${sock()}`).catch(() => false)) servingAgainMs = Date.now() - killedAt;
    else await new Promise((r) => setTimeout(r, 50));
  }
  t.log(`serving again ${servingAgainMs} ms after both workers were killed`);
  t.truthy(servingAgainMs !== undefined && servingAgainMs < 6000, `serving again within 6 s (took ${servingAgainMs} ms)`);
  let after: number[] = [];
  for (let i = 0; i < 150; i++) {
    after = workerPids();
    if (after.length === 2 && !after.some((p) => now.includes(p))) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  t.is(after.length, 2, 'two new workers');
  t.false(after.some((p) => now.includes(p)));
  t.true(await oneMessage(`unix:${sock()}`));
  t.true(await oneMessage(`inet:127.0.0.1:${milter.port}`));
  now = after;

  milter.child.kill('SIGTERM');
  t.is(await milter.exited, 0);
  t.deepEqual(workerPids(), []);
  for (const pid of now) t.throws(() => process.kill(pid, 0), undefined, `worker ${pid} is gone`);
  t.false(existsSync(sock()), 'the socket file is removed');
});
