/** Stopping a child process started by a test or the bench. */
import type { ChildProcess } from 'node:child_process';

/** SIGTERM, then SIGKILL if it is still there after `killAfterMs`; resolves once it has exited. */
export async function stopChild(child: ChildProcess, killAfterMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
  await exited;
  clearTimeout(timer);
}
