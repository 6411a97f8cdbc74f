/** The real `mailanchor milter` CLI as a child process on a free loopback port, for end-to-end tests. */
import { spawn, type ChildProcess } from 'node:child_process';
import { stopChild } from './child.ts';
import { freePort } from './ports.ts';

const MAIN = new URL('../../src/cli/main.ts', import.meta.url).pathname;

export interface MilterProcess {
  readonly child: ChildProcess;
  readonly port: number;
  /** stdout + stderr so far. */
  output(): string;
  readonly exited: Promise<number | null>;
  stop(): Promise<void>;
}

/** Starts `mailanchor milter <args> --listen inet:127.0.0.1:<free port>` and waits for "listening on". */
export async function startMilterProcess(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<MilterProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, [MAIN, 'milter', ...args, '--listen', `inet:127.0.0.1:${port}`], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  for (let i = 0; i < 200 && !/listening on/.test(out); i++) {
    if (child.exitCode !== null) throw new Error(`mailanchor milter exited: ${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  if (!/listening on/.test(out)) {
    child.kill('SIGKILL');
    throw new Error(`mailanchor milter did not start: ${out}`);
  }
  return {
    child,
    port,
    output: () => out,
    exited,
    stop: () => stopChild(child, 10_000),
  };
}
