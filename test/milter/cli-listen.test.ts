/**
 * The milter CLI's listener flags and warnings: a TCP listener (the quick-start default)
 * warns at start-up that every local user can connect and get mail signed as ours; the
 * unix socket with `--socket-mode` and `--socket-group` gets that mode and group and does
 * not warn.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stopChild } from '../support/child.ts';
import { startMilterProcess } from '../support/milter-process.ts';

const MAIN = new URL('../../src/cli/main.ts', import.meta.url).pathname;

test('TCP listener: a start-up warning names the risk and the production setting', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mailanchor-cli-listen-'));
  writeFileSync(join(dir, 'c.yml'), `store:\n  path: ${join(dir, 's.db')}\n`);
  const m = await startMilterProcess(['--config', join(dir, 'c.yml'), '--filter', 'test-header']);
  try {
    t.regex(m.output(), /milter listens on TCP: any local user[^\n]*\{auth_authen\}[^\n]*unix:\/var\/spool\/postfix\/mailanchor\/milter\.sock/);
  } finally {
    await m.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('unix socket with --socket-mode and --socket-group: that mode and group, no warning', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mailanchor-cli-listen-'));
  writeFileSync(join(dir, 'c.yml'), `store:\n  path: ${join(dir, 's.db')}\n`);
  const sock = join(dir, 'milter.sock');
  const gid = process.getgid?.() ?? 0;
  const child = spawn(process.execPath, [MAIN, 'milter', '--config', join(dir, 'c.yml'), '--filter', 'test-header', '--listen', `unix:${sock}`, '--socket-mode', '0640', '--socket-group', String(gid)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  try {
    for (let i = 0; i < 200 && !/listening on/.test(out); i++) await new Promise((r) => setTimeout(r, 50));
    t.regex(out, /listening on unix:/);
    const st = statSync(sock);
    t.is(st.mode & 0o777, 0o640);
    t.is(st.gid, gid);
    t.notRegex(out, /milter listens on TCP/);
    t.notRegex(out, /writable by every local user/);
  } finally {
    await stopChild(child);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--socket-mode that is not octal and --workers that is neither a number nor auto are usage errors', async (t) => {
  for (const args of [['--socket-mode', 'rw-rw----'], ['--workers', 'many']]) {
    const child = spawn(process.execPath, [MAIN, 'milter', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((r) => child.once('exit', r));
    t.is(code, 64, err);
  }
});
