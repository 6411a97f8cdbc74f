/**
 * What a piece of work allocates, by function: V8's sampling heap profiler (through the
 * inspector) around `work`, objects the GC already collected included — the allocation
 * rate a capped young generation pays for, not what stays live. For the benches'
 * `--heap-sample` options; not a test.
 */
import { Session } from 'node:inspector/promises';

interface HeapNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: HeapNode[];
}

export interface HeapSample {
  /** Sampled bytes in all. */
  readonly total: number;
  /** Sampled bytes by `function file:line` (paths from src/, bench/ or node_modules/), most first. */
  readonly byFunction: readonly (readonly [string, number])[];
}

export async function sampleHeap(work: () => Promise<unknown>, samplingInterval: number): Promise<HeapSample> {
  const session = new Session();
  session.connect();
  try {
    await session.post('HeapProfiler.enable');
    await session.post('HeapProfiler.startSampling', { samplingInterval, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
    await work();
    const { profile } = (await session.post('HeapProfiler.stopSampling')) as unknown as { profile: { head: HeapNode } };
    const bytes = new Map<string, number>();
    let total = 0;
    const visit = (n: HeapNode): void => {
      if (n.selfSize) {
        const url = n.callFrame.url.replace(/^file:\/\/.*?\/(src|bench|node_modules)\//, '$1/') || '(native)';
        const key = `${n.callFrame.functionName || '(anonymous)'} ${url}:${n.callFrame.lineNumber + 1}`;
        bytes.set(key, (bytes.get(key) ?? 0) + n.selfSize);
        total += n.selfSize;
      }
      for (const c of n.children) visit(c);
    };
    visit(profile.head);
    return { total, byFunction: [...bytes].sort((a, b) => b[1] - a[1]) };
  } finally {
    session.disconnect();
  }
}
