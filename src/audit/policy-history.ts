/**
 * What the audit saw of each domain's MTA-STS policy last time: its `id` and a digest of
 * the policy body. RFC 8461 §3.1: senders fetch a policy again only when the `id` changes,
 * so a policy edited without a new `id` reaches no sender that cached the old one. One JSON
 * file in the audit's state directory, written atomically; unreadable or absent means no
 * history (nothing to compare, nothing flagged).
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

export interface PolicySighting {
  readonly id: string;
  /** SHA-256 hex of the policy body as fetched. */
  readonly sha256: string;
  readonly seenAt: string;
}

export interface PolicyHistory {
  get(domain: string): PolicySighting | undefined;
  set(domain: string, sighting: PolicySighting): void;
  save(): Promise<void>;
}

export function memoryHistory(initial: Record<string, PolicySighting> = {}): PolicyHistory {
  const m = new Map(Object.entries(initial));
  return { get: (d) => m.get(d), set: (d, s) => void m.set(d, s), save: async () => {} };
}

export async function fileHistory(stateDir: string): Promise<PolicyHistory> {
  const file = join(stateDir, 'mta-sts-policies.json');
  let data: Record<string, PolicySighting> = {};
  try {
    const parsed = JSON.parse(await readFile(file, 'utf8')) as unknown;
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) data = parsed as Record<string, PolicySighting>;
  } catch {
    // No file yet, or a damaged one: start over (the next run compares against this one).
  }
  let dirty = false;
  return {
    get: (d) => data[d],
    set: (d, s) => {
      data[d] = s;
      dirty = true;
    },
    async save() {
      if (!dirty) return;
      await mkdir(dirname(file), { recursive: true, mode: 0o700 });
      const tmp = `${file}.${process.pid}.tmp`;
      await writeFile(tmp, `${JSON.stringify(data, null, 1)}\n`, { mode: 0o600 });
      await rename(tmp, file);
      dirty = false;
    },
  };
}
