/** An in-process CliIo that collects what a command writes (the dane, reports and other CLI tests). */
import { PassThrough } from 'node:stream';
import type { CliIo } from '../../src/cli/io.ts';

/**
 * `tty: true` makes stderr look like a terminal of `columns` (default 100) to the command
 * (`isTTY`), so its progress line is written into what `err()` returns.
 */
export function captureIo(cwd = process.cwd(), options: { readonly tty?: boolean; readonly columns?: number; readonly env?: NodeJS.ProcessEnv } = {}): CliIo & { out(): string; err(): string } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  if (options.tty) Object.assign(stderr, { isTTY: true, columns: options.columns ?? 100 });
  let o = '';
  let e = '';
  stdout.on('data', (c: Buffer) => (o += c.toString()));
  stderr.on('data', (c: Buffer) => (e += c.toString()));
  return { stdout, stderr, env: options.env ?? {}, cwd, out: () => o, err: () => e };
}
