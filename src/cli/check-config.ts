/**
 * `mailanchor check-config [--config FILE] [--store FILE|URL] [--print [--non-default]]`: like
 * `postfix check` — silent and exit 0 when the file is valid; otherwise every problem with
 * its key and line, exit 1. Also checks what is cheap to check outside the file: the store's
 * directory and unix socket directories. `--print` writes the effective configuration to
 * stdout with every default marked (like `postconf` / `opendkim -n`); `--non-default` (`-n`)
 * only what the file sets (like `postconf -n`).
 */
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, formatIssue, loadConfig } from '../config/load.ts';
import { printConfig } from '../config/print.ts';
import { configSchema, type Config } from '../config/sections.ts';
import { describeError } from '../errors.ts';
import { storeTarget } from '../store/open.ts';
import type { CliCommand } from './io.ts';

/** Problems visible only outside the file; pure apart from filesystem reads. */
export function runtimeProblems(config: Config, options: { readonly store?: string } = {}): string[] {
  const problems: string[] = [];
  const key = options.store !== undefined ? '--store' : config.store.url !== undefined ? 'store.url' : 'store.path';
  let target;
  try {
    target = storeTarget(config.store, options.store !== undefined ? { override: options.store } : {});
  } catch (err) {
    problems.push(`${key}: ${describeError(err).message}`);
  }
  if (target?.engine === 'sqlite') {
    const storeDir = dirname(target.path);
    const nearest = existingAncestor(storeDir);
    try {
      accessSync(nearest, constants.W_OK);
    } catch {
      problems.push(`${key}: ${storeDir} cannot be created or written (nearest existing directory ${nearest} is not writable)`);
    }
    if (existsSync(target.path)) {
      const mode = statSync(target.path).mode & 0o777;
      if (mode & 0o077) problems.push(`${key}: ${target.path} has mode ${mode.toString(8)}; it holds private keys: chmod 600`);
    }
  } else if (target?.engine === 'postgres' && config.store.password_file !== undefined) {
    const file = config.store.password_file;
    if (!existsSync(file)) problems.push(`store.password_file: ${file} does not exist`);
    else if (statSync(file).mode & 0o077) problems.push(`store.password_file: ${file} is readable by group or others: chmod 600`);
  }
  config.milter.listen.forEach((l, i) => {
    if (l.kind === 'unix' && !existsSync(dirname(l.path))) problems.push(`milter.listen[${i}]: directory ${dirname(l.path)} does not exist (the install step creates /var/spool/postfix/mailanchor: docs/deploy.md)`);
  });
  return problems;
}

function existingAncestor(dir: string): string {
  let d = dir;
  while (!existsSync(d) && dirname(d) !== d) d = dirname(d);
  return d;
}

export const run: CliCommand = async (argv, io) => {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: { config: { type: 'string' }, store: { type: 'string' }, verbose: { type: 'boolean', short: 'v' }, print: { type: 'boolean' }, 'non-default': { type: 'boolean', short: 'n' } },
      strict: true,
    }));
  } catch (err) {
    io.stderr.write(`mailanchor check-config: ${(err as Error).message}\nusage: mailanchor check-config [--config FILE] [--store FILE|URL] [-v] [--print [--non-default]]\n`);
    return 64;
  }
  try {
    const { config, source, raw } = await loadConfig(values.config);
    if (values.print || values['non-default']) {
      const header = [
        `mailanchor check-config --print${values['non-default'] ? ' --non-default' : ''}: the effective configuration of ${source}`,
        ...(values['non-default'] ? ['(only the values the file sets)'] : ['"# default": not set in the file; "(not set)": an optional key left out']),
      ];
      io.stdout.write(printConfig(configSchema, config, raw, header, { nonDefault: values['non-default'] === true }));
    }
    const problems = runtimeProblems(config, values.store !== undefined ? { store: values.store } : {});
    for (const p of problems) io.stderr.write(`mailanchor: ${source}: ${p}\n`);
    if (values.verbose && problems.length === 0) io.stdout.write(`${source}: ok\n`);
    return problems.length ? 1 : 0;
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const i of err.issues) io.stderr.write(`mailanchor: ${err.context['file'] as string}: ${formatIssue(i)}\n`);
    } else {
      io.stderr.write(`mailanchor: ${describeError(err).message}\n`);
    }
    return 1;
  }
};
