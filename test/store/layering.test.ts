/**
 * SQL stays in the store adapters: no `node:sqlite`, no `pg` and no SQL statement anywhere in
 * src/ outside src/store/sqlite/ and src/store/postgres/.
 */
import test from 'ava';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const SRC = new URL('../../src/', import.meta.url).pathname;
const ADAPTERS = ['store/sqlite/', 'store/postgres/'];

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

test('no node:sqlite, pg or SQL outside src/store/sqlite/ and src/store/postgres/', (t) => {
  const offenders: string[] = [];
  for (const f of files(SRC)) {
    const rel = relative(SRC, f);
    if (ADAPTERS.some((a) => rel.startsWith(a))) continue;
    const text = readFileSync(f, 'utf8');
    if (/from ['"]node:sqlite['"]|from ['"]pg['"]|require\(['"]pg['"]\)/.test(text)) offenders.push(`${rel}: imports a database driver`);
    if (/\b(SELECT\s+[\w*"(]|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|CREATE\s+(TABLE|INDEX)|BEGIN\s+IMMEDIATE|PRAGMA\s+\w)/.test(text)) offenders.push(`${rel}: contains SQL`);
  }
  t.deepEqual(offenders, []);
  t.true(files(join(SRC, 'store/sqlite')).length > 0 && files(join(SRC, 'store/postgres')).length > 0, 'the adapters are where this test looks');
});
