/**
 * The process-level policy for errors no code caught (src/app/process-errors.ts), in a child
 * process so ava's own handlers stay out of it: an unhandled rejection or an exception from
 * a timer in one message's work ends that session only — the process lives, a session
 * running beside it completes — and each is counted; errors outside any session are counted
 * too, and only a run of them makes the process ask to exit.
 */
import test from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { MilterClient, sendMessage } from '../../src/milter/mta-client.ts';

const CHILD = new URL('./process-errors-child.ts', import.meta.url).pathname;
let child: ChildProcess;
let address = '';
const lines: Array<Record<string, unknown>> = [];

test.before(async () => {
  child = spawn(process.execPath, [CHILD], { stdio: ['pipe', 'pipe', 'inherit'] });
  createInterface({ input: child.stdout! }).on('line', (l) => {
    try {
      lines.push(JSON.parse(l) as Record<string, unknown>);
    } catch {
      lines.push({ raw: l });
    }
  });
  for (let i = 0; i < 200 && !address; i++) {
    address = String(lines.find((l) => l['listening'])?.['listening'] ?? '');
    await new Promise((r) => setTimeout(r, 50));
  }
});
test.after.always(() => {
  child?.stdin?.write('quit\n');
  setTimeout(() => child?.kill('SIGKILL'), 2000).unref();
});

async function message(from: string): Promise<'ok' | 'closed'> {
  const c = await MilterClient.connect(address);
  try {
    await c.negotiate();
    const r = await sendMessage(c, { from, rcpts: ['b@anchor.test'], headers: [['Subject', ' x']], body: 'x\r\n' });
    c.quit();
    return r.eom ? 'ok' : 'closed';
  } catch {
    return 'closed';
  } finally {
    c.destroy();
  }
}

for (const [kind, from] of [['an unhandled rejection', 'reject@evil.test'], ['an exception thrown from a timer', 'throw@evil.test']] as const) {
  test.serial(`${kind} in one message's work ends that session only; the process and a parallel session go on`, async (t) => {
    const since = lines.length;
    const [bad, good] = await Promise.all([message(from), message('alice@good.test')]);
    t.is(bad, 'closed', 'the session concerned is ended');
    t.is(good, 'ok', 'the session beside it completes');
    t.is(child.exitCode, null);
    const logged = lines.slice(since).filter((l) => String(l['message']).includes('in one milter session'));
    t.is(logged.length, 1);
    t.truthy(logged[0]?.['sid']);
    t.is(await message('carol@good.test'), 'ok', 'and the next one too');
  });
}

test.serial('errors outside any session are counted; only a run of them asks the process to exit', async (t) => {
  const since = lines.length;
  child.stdin!.write('outside\n');
  for (let i = 0; i < 50 && !lines.slice(since).some((l) => 'exits' in l); i++) await new Promise((r) => setTimeout(r, 50));
  t.true(lines.slice(since).some((l) => l['exit'] === 70), 'asked to exit with 70 after more than 3');
  t.is(lines.slice(since).filter((l) => String(l['message']).includes('outside any milter session')).length, 4);
  child.stdin!.write('metrics\n');
  let metrics = '';
  for (let i = 0; i < 50 && !metrics; i++) {
    metrics = String(lines.find((l) => 'metrics' in l)?.['metrics'] ?? '');
    await new Promise((r) => setTimeout(r, 50));
  }
  t.regex(metrics, /mailanchor_process_errors_total\{kind="unhandledRejection",scope="session"\} 1/);
  t.regex(metrics, /mailanchor_process_errors_total\{kind="uncaughtException",scope="session"\} 1/);
  t.regex(metrics, /mailanchor_process_errors_total\{kind="unhandledRejection",scope="process"\} 4/);
});
