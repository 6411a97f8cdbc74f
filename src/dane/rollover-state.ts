/**
 * The rollover state on disk: one JSON file per TLSA owner, written atomically
 * (temp file + rename) so a crash never leaves half a state. A missing file is the empty
 * state — the conservative start: the 2 × TTL wait begins at the first observation.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { DaneError } from './errors.ts';
import { emptyState, type RolloverState } from './rollover.ts';

export const stateFileFor = (dir: string, owner: string): string => join(dir, `tlsa-${owner.replace(/\.$/, '').replace(/[^a-z0-9._-]/gi, '_')}.json`);

export async function loadRolloverState(file: string, owner: string): Promise<RolloverState> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return emptyState(owner);
    throw new DaneError('STATE', `${file}: ${(err as Error).message}`, { file }, { cause: err });
  }
  try {
    const raw = JSON.parse(text) as Partial<RolloverState>;
    if (raw.owner !== owner) return emptyState(owner);
    const since: Record<string, number> = {};
    for (const [k, v] of Object.entries(raw.everywhereSince ?? {})) if (typeof v === 'number') since[k] = v;
    return { owner, everywhereSince: since, maxTtlSeen: typeof raw.maxTtlSeen === 'number' ? raw.maxTtlSeen : 0 };
  } catch (err) {
    throw new DaneError('STATE', `${file}: not a rollover state file: ${(err as Error).message}`, { file }, { cause: err });
  }
}

export async function saveRolloverState(file: string, state: RolloverState): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o640 });
  await rename(tmp, file);
}
