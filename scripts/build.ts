/**
 * `npm run build`: compiles src/ to dist/ with tsconfig.build.json (plain JavaScript for
 * Node 24, what the installed command and the systemd units run).
 *
 *   node scripts/build.ts [--out DIR] [--if-needed]
 *
 * The output directory is emptied first, so a source file that was deleted leaves no stale
 * module behind. `--if-needed` (what `npm start` uses) does nothing when the output is newer
 * than every file under src/ and the tsconfig files. Exit status: 0 built or up to date,
 * 1 the compiler failed (its messages on stderr).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const ROOT = resolve(import.meta.dirname, '..');
const STAMP = '.build-stamp';

/** Newest modification time (ms) of the files that make the build. */
function newestInput(): number {
  let newest = 0;
  const visit = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, entry.name);
      if (entry.isDirectory()) visit(p);
      else newest = Math.max(newest, statSync(p).mtimeMs);
    }
  };
  visit(join(ROOT, 'src'));
  for (const f of ['tsconfig.json', 'tsconfig.build.json', 'package.json']) newest = Math.max(newest, statSync(join(ROOT, f)).mtimeMs);
  return newest;
}

export function upToDate(out: string): boolean {
  const stamp = join(out, STAMP);
  return existsSync(stamp) && statSync(stamp).mtimeMs >= newestInput();
}

export function build(out: string): number {
  rmSync(out, { recursive: true, force: true });
  const tsc = spawnSync(join(ROOT, 'node_modules/.bin/tsc'), ['-p', join(ROOT, 'tsconfig.build.json'), '--outDir', out], { stdio: 'inherit' });
  if (tsc.status !== 0) return 1;
  writeFileSync(join(out, STAMP), `built ${new Date().toISOString()}\n`);
  return 0;
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { out: { type: 'string' }, 'if-needed': { type: 'boolean' } } });
  const out = resolve(values.out ?? join(ROOT, 'dist'));
  if (values['if-needed'] && upToDate(out)) process.exit(0);
  process.exitCode = build(out);
}
