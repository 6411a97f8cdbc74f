/**
 * Issue 17: verification is our own engine. mailauth stays a devDependency (a test oracle in
 * differential tests and benches), never a runtime one, and nothing under src/ loads it.
 */
import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('../..', import.meta.url).pathname;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

test('mailauth is not a runtime dependency', (t) => {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
  t.false('mailauth' in pkg.dependencies);
  t.true('mailauth' in pkg.devDependencies, 'kept as the test oracle');
});

test('no module under src/ imports or requires mailauth', (t) => {
  const offenders = sources(join(root, 'src')).filter((f) => /(?:from\s+|require\(|import\()\s*['"]mailauth/.test(readFileSync(f, 'utf8')));
  t.deepEqual(offenders, []);
});
