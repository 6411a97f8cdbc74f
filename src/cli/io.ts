/** What a CLI command may touch, so each command runs in-process in tests. */
export interface CliIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
}

/** A subcommand: parses its own argv, returns the process exit code. */
export type CliCommand = (argv: readonly string[], io: CliIo) => Promise<number>;

export const processIo = (): CliIo => ({ stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() });
