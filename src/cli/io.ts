import type { ExitCode } from './exit-codes.ts';

/** What a CLI command may touch, so each command runs in-process in tests. */
export interface CliIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
}

/** A command: parses its argv with its spec (parse.ts), returns its exit status (exit-codes.ts). */
export type CliCommand = (argv: readonly string[], io: CliIo) => Promise<ExitCode>;

export const processIo = (): CliIo => ({ stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() });
