/**
 * The files a list of paths stands for: a file itself; a directory recursively (sorted,
 * dot-files skipped); a Maildir (`cur/` and `new/`, never `tmp/` where deliveries are
 * still being written) with its Maildir++ sub-folders (`.Reports.Processed/`, the one
 * case where a dot-directory is entered). Symbolic links to directories are followed once:
 * a directory already seen (device + inode) is not entered again, so a link loop ends.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

export type WalkItem = { readonly file: string; readonly size: number } | { readonly failure: { readonly path: string; readonly reason: string } };

const MAX_DEPTH = 32;

async function isMaildir(dir: string, names: readonly string[]): Promise<boolean> {
  if (!names.includes('cur') || !names.includes('new')) return false;
  const [cur, neu] = await Promise.all([stat(join(dir, 'cur')).catch(() => undefined), stat(join(dir, 'new')).catch(() => undefined)]);
  return cur?.isDirectory() === true && neu?.isDirectory() === true;
}

export async function* walk(paths: readonly string[]): AsyncGenerator<WalkItem> {
  const seen = new Set<string>();
  async function* visit(path: string, depth: number): AsyncGenerator<WalkItem> {
    let st;
    try {
      st = await stat(path);
    } catch (err) {
      yield { failure: { path, reason: (err as Error).message } };
      return;
    }
    if (st.isFile()) {
      yield { file: path, size: st.size };
      return;
    }
    if (!st.isDirectory()) return; // sockets, FIFOs, devices: nothing to read
    const id = `${st.dev}:${st.ino}`;
    if (seen.has(id)) return;
    seen.add(id);
    if (depth > MAX_DEPTH) {
      yield { failure: { path, reason: `directories nested deeper than ${MAX_DEPTH}` } };
      return;
    }
    let names: string[];
    try {
      names = (await readdir(path)).sort();
    } catch (err) {
      yield { failure: { path, reason: (err as Error).message } };
      return;
    }
    if (await isMaildir(path, names)) {
      for (const sub of ['new', 'cur']) yield* visit(join(path, sub), depth + 1);
      // Maildir++: sub-folders are dot-directories holding their own cur/new/tmp.
      for (const n of names) if (n.startsWith('.') && n !== '.' && n !== '..') {
        const p = join(path, n);
        const entries = await readdir(p).catch(() => [] as string[]);
        if (await isMaildir(p, entries)) yield* visit(p, depth + 1);
      }
      return;
    }
    for (const n of names) if (!n.startsWith('.')) yield* visit(join(path, n), depth + 1);
  }
  for (const p of paths) yield* visit(p, 0);
}
