#!/usr/bin/env node
/**
 * `mailanchor <command> …`: dispatches to one module per command, loaded lazily so
 * `mailanchor tlsa` does not load the milter. Each module exports `run: CliCommand`; the
 * commands' specs (src/cli/specs/) are plain data, so the help here loads none of them.
 *
 *   mailanchor --help | -h | help [COMMAND [SUBCOMMAND]]
 *   mailanchor --version | -V
 */
import { EX, type ExitCode } from './exit-codes.ts';
import { groupHelp, leafHelp, wrapText } from './help.ts';
import type { CliCommand, CliIo } from './io.ts';
import { processIo } from './io.ts';
import { COMMANDS, PROGRAM } from './specs/index.ts';
import { versionLine } from './version.ts';

/** The module of each command of specs/index.ts. */
export const MODULES: Readonly<Record<string, string>> = {
  milter: './milter.ts',
  'check-config': './check-config.ts',
  keys: './keys.ts',
  tlsa: './tlsa.ts',
  report: './report.ts',
  audit: './audit.ts',
  store: './store.ts',
};

export function programHelp(): string {
  const col = Math.max(...COMMANDS.map((c) => c.name.length)) + 4;
  const rows = COMMANDS.flatMap((c) => {
    const body = wrapText(c.summary, ' '.repeat(col + 2));
    return [`  ${c.name.padEnd(col)}${body[0]!.trimStart()}`, ...body.slice(1)];
  });
  return [
    'usage: mailanchor <command> [options]',
    '       mailanchor <command> --help',
    '       mailanchor --version',
    '',
    ...wrapText(PROGRAM.summary),
    '',
    'Commands:',
    ...rows,
    '',
    'Every command takes --config FILE (default /etc/mailanchor/mailanchor.yml, built-in',
    'defaults if absent); every command that uses the store takes --store FILE|URL.',
    'Exit statuses are those of sysexits(3) (64 usage, 78 config, 75 try again later …);',
    'audit, tlsa check and tlsa --deploy-check answer 0/1/2. See mailanchor(8).',
    '',
  ].join('\n');
}

function helpFor(words: readonly string[], io: CliIo): ExitCode {
  const [name, sub] = words;
  if (name === undefined) {
    io.stdout.write(programHelp());
    return EX.OK;
  }
  const spec = COMMANDS.find((c) => c.name === name);
  const leaf = sub === undefined ? undefined : spec?.subcommands?.find((s) => s.name === sub);
  if (!spec || (sub !== undefined && !leaf)) {
    io.stderr.write(`mailanchor help: no command "${words.join(' ')}"\n\n${programHelp()}`);
    return EX.USAGE;
  }
  io.stdout.write(leaf ? leafHelp({ prefix: ['mailanchor', spec.name], parent: spec, spec: leaf }) : spec.subcommands ? groupHelp(['mailanchor'], spec) : leafHelp({ prefix: ['mailanchor'], spec }));
  return EX.OK;
}

export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    io.stderr.write(programHelp());
    return EX.USAGE;
  }
  if (name === '--help' || name === '-h') return helpFor([], io);
  if (name === 'help') return helpFor(rest, io);
  if (name === '--version' || name === '-V') {
    io.stdout.write(`${versionLine()}\n`);
    return EX.OK;
  }
  const module = MODULES[name];
  if (!module) {
    io.stderr.write(`mailanchor: unknown ${name.startsWith('-') ? 'option' : 'command'} "${name}"\n\n${programHelp()}`);
    return EX.USAGE;
  }
  const mod = (await import(module)) as { run: CliCommand };
  return mod.run(rest, io);
}

if (import.meta.main) {
  const code = await main(process.argv.slice(2), processIo());
  // Long-running commands (milter, sidecar) resolve only when they are done.
  process.exitCode = code;
}
