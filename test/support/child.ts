/** Stopping a child process started by a test or the bench. */
import type { ChildProcess } from 'node:child_process';
import { listening } from './ports.ts';

/** SIGTERM, then SIGKILL if it is still there after `killAfterMs`; resolves once it has exited. */
export async function stopChild(child: ChildProcess, killAfterMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
  await exited;
  clearTimeout(timer);
}

/**
 * Waits until `child` accepts TCP connections on 127.0.0.1:`port`, polling every 50 ms.
 * Throws, with the tail of `output()`, when the child exits first or `attempts` polls pass.
 */
export async function waitForListening(child: ChildProcess, port: number, what: string, options: { attempts?: number; output?: () => string } = {}): Promise<void> {
  const tail = (): string => {
    const out = options.output?.() ?? '';
    return out ? `: ${out.slice(-2000)}` : '';
  };
  for (let i = 0; i < (options.attempts ?? 200); i++) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode} before listening on ${port}${tail()}`);
    if (await listening(port)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what} did not listen on ${port}${tail()}`);
}
