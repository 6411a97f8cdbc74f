/**
 * What a command prints when it does not run, in one place: help on stdout (exit 0), a
 * usage error on stderr with the usage lines (EX_USAGE, or the command's own usage status),
 * and the last line of an error the command did not handle (its sysexits status); a config
 * that does not load, one line per problem.
 */
import { ConfigError, formatIssue } from '../config/load.ts';
import { describeError } from '../errors.ts';
import { exitFor } from './error-exit.ts';
import { EX, type ExitCode } from './exit-codes.ts';
import { displayName, usageExit, usageHint, type Invocation } from './help.ts';
import type { CliIo } from './io.ts';
import type { Parsed } from './parse.ts';
import type { CommandSpec } from './spec.ts';

/** A usage problem only the command can see (a missing operand, options that exclude each other). */
export class UsageError extends Error {}

/** Prints the help or the usage error of a parse that did not give a command to run. */
export function answer(parsed: Exclude<Parsed<CommandSpec>, { kind: 'run' }>, io: CliIo): ExitCode {
  if (parsed.kind === 'help') {
    io.stdout.write(parsed.text);
    return EX.OK;
  }
  io.stderr.write(`${parsed.message}\n${parsed.text}`);
  return parsed.exit;
}

export function usageFailure(inv: Invocation, message: string, io: CliIo): ExitCode {
  io.stderr.write(`${displayName(inv)}: ${message}\n${usageHint(inv)}`);
  return usageExit(inv);
}

/** The error a command ends with: a usage error as such, anything else with its message and sysexits status. */
export function failure(inv: Invocation, err: unknown, io: CliIo): ExitCode {
  if (err instanceof UsageError) return usageFailure(inv, err.message, io);
  // A config that does not load: every problem on its own line, with its file and line.
  if (err instanceof ConfigError) {
    const file = typeof err.context['file'] === 'string' ? `${err.context['file']}: ` : '';
    io.stderr.write(err.issues.map((i) => `${displayName(inv)}: ${file}${formatIssue(i)}\n`).join(''));
    return exitFor(err);
  }
  io.stderr.write(`${displayName(inv)}: ${describeError(err).message}\n`);
  return exitFor(err);
}
