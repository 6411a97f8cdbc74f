/**
 * SIGSTOP/SIGCONT that return only once they have taken effect. `kill(2)` only queues a
 * stop signal: the kernel hands it to one thread of the process, which must be scheduled
 * to run before it stops the others, so on a loaded machine a multi-threaded server such
 * as knotd keeps answering from its other threads for a while (measured here: 27 of 150
 * queries sent right after SIGSTOP were still answered). A test that "takes DNS down" must
 * wait until every thread is stopped, or a timeout it expects becomes an answer.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** The state letter (`R`, `S`, `T` …, proc(5)) of every thread of `pid`; empty once it is gone. */
export function threadStates(pid: number): string[] {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  return tids.flatMap((tid) => {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'latin1');
      // `tid (comm) S …`: comm may hold spaces and parentheses, so read after the last ')'.
      return [stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)];
    } catch {
      return []; // the thread ended meanwhile
    }
  });
}

const stopped = (s: string): boolean => s === 'T' || s === 't';

async function until(pid: number, what: string, ok: (states: string[]) => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const states = threadStates(pid);
    if (states.length === 0) throw new Error(`process ${pid} is gone (waiting until ${what})`);
    if (ok(states)) return;
    if (Date.now() > deadline) throw new Error(`process ${pid} not ${what} after ${timeoutMs} ms (thread states ${states.join('')})`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** SIGSTOP, then wait until every thread is stopped. */
export async function stopProcess(pid: number, timeoutMs = 5000): Promise<void> {
  process.kill(pid, 'SIGSTOP');
  await until(pid, 'stopped', (s) => s.every(stopped), timeoutMs);
}

/** SIGCONT, then wait until no thread is stopped. */
export async function continueProcess(pid: number, timeoutMs = 5000): Promise<void> {
  process.kill(pid, 'SIGCONT');
  await until(pid, 'running again', (s) => !s.some(stopped), timeoutMs);
}
