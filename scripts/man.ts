/**
 * `npm run man`: writes man/mailanchor.8 and man/mailanchor.yml.5 from their sources (the
 * command specs in src/cli/specs/, the config schema and mailanchor.example.yml;
 * src/cli/man/pages.ts). A page whose text did not change keeps its file and its date.
 *
 *   node scripts/man.ts [--check]
 *
 * `--check` writes nothing and exits 1 when a committed page is not what the sources make.
 * Exit status: 0 written or up to date, 1 stale (--check).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { manPages, sameExceptDate } from '../src/cli/man/pages.ts';
import { packageVersion } from '../src/cli/version.ts';

const ROOT = resolve(import.meta.dirname, '..');

if (import.meta.main) {
  const { values } = parseArgs({ options: { check: { type: 'boolean' } } });
  const dir = join(ROOT, 'man');
  const example = readFileSync(join(ROOT, 'mailanchor.example.yml'), 'utf8');
  const today = new Date().toISOString().slice(0, 10);
  let stale = 0;
  for (const page of manPages({ version: packageVersion(), date: today }, example)) {
    const file = join(dir, page.file);
    const old = existsSync(file) ? readFileSync(file, 'utf8') : undefined;
    if (old !== undefined && sameExceptDate(old, page.text)) {
      console.log(`man/${page.file}: up to date`);
      continue;
    }
    stale++;
    if (values.check) {
      console.error(`man/${page.file}: stale; run \`npm run man\``);
      continue;
    }
    mkdirSync(dir, { recursive: true });
    writeFileSync(file, page.text);
    console.log(`man/${page.file}: written`);
  }
  process.exitCode = values.check && stale ? 1 : 0;
}
