/**
 * `node bench/profile-summary.ts FILE.cpuprofile [--top N]`: what dominates a V8 CPU profile
 * (written by `node --cpu-prof`, e.g. `npm run bench -- --profile`): self time per function
 * and per file, in percent of the sampled time; with `--inclusive`, also the time spent in each
 * function and everything it called (top-down: a function that only dispatches shows here).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples?: number[];
  timeDeltas?: number[];
}

export function summarize(profile: Profile, top: number, inclusive = false): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) selfUs.set(samples[i]!, (selfUs.get(samples[i]!) ?? 0) + Math.max(0, deltas[i] ?? 0));
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0) || 1;
  const perFn = new Map<string, number>();
  const perFile = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const n = byId.get(id);
    if (!n) continue;
    const url = n.callFrame.url.replace(/^file:\/\/.*?\/(node_modules|src|dist|bench)\//, '$1/') || '(native)';
    const fn = `${n.callFrame.functionName || '(anonymous)'} ${url}:${n.callFrame.lineNumber + 1}`;
    perFn.set(fn, (perFn.get(fn) ?? 0) + us);
    perFile.set(url, (perFile.get(url) ?? 0) + us);
  }
  const rows = (m: Map<string, number>): string[] =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, us]) => `${((100 * us) / total).toFixed(1).padStart(5)} %  ${k}`);
  const out = [`sampled ${(total / 1e6).toFixed(2)} s`, '', 'self time by function:', ...rows(perFn), '', 'self time by file:', ...rows(perFile), ''];
  if (inclusive) out.push('inclusive time by function (ours: src/ or dist/):', ...rows(inclusiveTime(profile, byId, selfUs, (k) => / (src|dist)\//.test(k))), '');
  return out.join('\n');
}

const keyOf = (n: ProfileNode): string =>
  `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.replace(/^file:\/\/.*?\/(node_modules|src|dist|bench)\//, '$1/') || '(native)'}:${n.callFrame.lineNumber + 1}`;

/** Per function, the time of every sample with it anywhere on the stack (recursion counted once). */
function inclusiveTime(profile: Profile, byId: Map<number, ProfileNode>, selfUs: Map<number, number>, keep: (key: string) => boolean): Map<string, number> {
  const subtree = new Map<number, number>();
  const total = (id: number): number => {
    let t = subtree.get(id);
    if (t !== undefined) return t;
    t = selfUs.get(id) ?? 0;
    for (const c of byId.get(id)?.children ?? []) t += total(c);
    subtree.set(id, t);
    return t;
  };
  const out = new Map<string, number>();
  const onPath = new Map<string, number>();
  const root = profile.nodes[0];
  if (!root) return out;
  // Iterative DFS: profiles can be deeper than the JS stack allows recursion.
  const stack: Array<{ id: number; leave: boolean }> = [{ id: root.id, leave: false }];
  while (stack.length) {
    const { id, leave } = stack.pop()!;
    const n = byId.get(id);
    if (!n) continue;
    const k = keyOf(n);
    if (leave) {
      onPath.set(k, onPath.get(k)! - 1);
      continue;
    }
    if (!onPath.get(k) && keep(k)) out.set(k, (out.get(k) ?? 0) + total(id));
    onPath.set(k, (onPath.get(k) ?? 0) + 1);
    stack.push({ id, leave: true });
    for (const c of n.children ?? []) stack.push({ id: c, leave: false });
  }
  return out;
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string' }, inclusive: { type: 'boolean' } } });
  for (const file of positionals) process.stdout.write(`== ${file}\n${summarize(JSON.parse(readFileSync(file, 'utf8')) as Profile, Number(values.top ?? 25), values.inclusive ?? false)}\n`);
}
