/** An in-process CliIo that collects what a command writes (the dane, reports and other CLI tests). */
import { PassThrough } from 'node:stream';
import type { CliIo } from '../../src/cli/io.ts';

export function captureIo(cwd = process.cwd()): CliIo & { out(): string; err(): string } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let o = '';
  let e = '';
  stdout.on('data', (c: Buffer) => (o += c.toString()));
  stderr.on('data', (c: Buffer) => (e += c.toString()));
  return { stdout, stderr, env: {}, cwd, out: () => o, err: () => e };
}
