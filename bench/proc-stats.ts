/**
 * Resource figures of a process tree from /proc: CPU time (utime + stime of every live process
 * in the tree, all threads included) and peak RSS (VmHWM, summed over the tree). VmHWM is reset
 * between cells by writing 5 to /proc/PID/clear_refs (Linux ≥ 4.0, proc(5)), so each cell's
 * peak is its own. Summing per-process peaks over a multi-process tree (rspamd: main + workers)
 * is an upper bound of the tree's simultaneous peak; for single-process milters it is exact.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';

/** Clock ticks per second for /proc/PID/stat times (sysconf(_SC_CLK_TCK); 100 on Linux/x86-64). */
const CLK_TCK = 100;

function readStat(pid: number): { ppid: number; ticks: number } | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // Fields after the parenthesised comm (which may contain spaces): see proc(5).
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) };
  } catch {
    return undefined; // the process exited between listing and reading
  }
}

/** The pids of `roots` and all their descendants alive now. */
export function processTree(roots: readonly number[]): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    const st = readStat(pid);
    if (!st) continue;
    const list = children.get(st.ppid) ?? [];
    list.push(pid);
    children.set(st.ppid, list);
  }
  const out: number[] = [];
  const queue = [...roots];
  while (queue.length) {
    const p = queue.shift()!;
    out.push(p);
    queue.push(...(children.get(p) ?? []));
  }
  return out;
}

/** CPU seconds used so far by one process (all its threads), not its children. */
export function processCpuSeconds(pid: number): number {
  return (readStat(pid)?.ticks ?? 0) / CLK_TCK;
}

/** CPU seconds used so far by the live processes of the tree. */
export function cpuSeconds(roots: readonly number[]): number {
  let ticks = 0;
  for (const pid of processTree(roots)) ticks += readStat(pid)?.ticks ?? 0;
  return ticks / CLK_TCK;
}

function statusKb(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Sum of VmHWM over the tree, in MiB. */
export function peakRssMiB(roots: readonly number[]): number {
  return processTree(roots).reduce((a, pid) => a + statusKb(pid, 'VmHWM'), 0) / 1024;
}

/** Sum of VmRSS over the tree, in MiB. */
export function rssMiB(roots: readonly number[]): number {
  return processTree(roots).reduce((a, pid) => a + statusKb(pid, 'VmRSS'), 0) / 1024;
}

/** Resets VmHWM to the current RSS for every process of the tree. */
export function resetPeakRss(roots: readonly number[]): void {
  for (const pid of processTree(roots)) {
    try {
      writeFileSync(`/proc/${pid}/clear_refs`, '5');
    } catch {
      // not ours to reset (exited, or no permission): its peak then spans the whole run
    }
  }
}

/** Sum of Pss over the tree, in MiB (shared pages split between sharers: fair for forked workers). */
export function pssMiB(roots: readonly number[]): number {
  let kb = 0;
  for (const pid of processTree(roots)) {
    try {
      const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'latin1'));
      kb += m ? Number(m[1]) : 0;
    } catch {
      // exited
    }
  }
  return kb / 1024;
}

/** Samples `pssMiB` every `ms` until stopped; returns the highest sample. */
export function samplePeakPss(roots: readonly number[], ms = 200): () => number {
  let peak = pssMiB(roots);
  const timer = setInterval(() => {
    peak = Math.max(peak, pssMiB(roots));
  }, ms);
  return () => {
    clearInterval(timer);
    return Math.max(peak, pssMiB(roots));
  };
}
