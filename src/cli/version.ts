/**
 * `mailanchor --version`: the package version and the Node it runs on. package.json sits
 * two directories above this module both in the checkout (src/cli/) and in the installed
 * tree (/opt/mailanchor/dist/cli/, beside the staged package.json).
 */
import { readFileSync } from 'node:fs';

export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
  if (typeof pkg.version !== 'string') throw new Error('package.json has no version');
  return pkg.version;
}

export const versionLine = (): string => `mailanchor ${packageVersion()} (Node ${process.version})`;
