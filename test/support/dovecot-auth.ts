/**
 * A private Dovecot that only authenticates: the SASL backend a Debian Postfix usually has
 * for its submission service (smtpd_sasl_type = dovecot, smtpd_sasl_path = private/auth).
 * One user with a plain password; the auth socket where the test says (inside a private
 * Postfix's queue: QUEUE/private/auth), owned postfix, mode 0660. No IMAP, no network, run
 * in the foreground as our child; stop() kills it and removes its directory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stopChild } from './child.ts';

export function dovecotMissing(): string | undefined {
  if (!existsSync('/usr/sbin/dovecot')) return 'Dovecot not installed (dovecot-core)';
  if (process.getuid?.() !== 0) return 'Dovecot needs root to start';
  return undefined;
}

export interface DovecotAuth {
  readonly socket: string;
  logs(): string;
  stop(): Promise<void>;
}

export async function startDovecotAuth(o: { socket: string; user: string; password: string }): Promise<DovecotAuth> {
  const dir = await mkdtemp(join(tmpdir(), 'mailanchor-dovecot-'));
  // Dovecot's auth process runs as user dovecot and reads the users file itself.
  await chmod(dir, 0o755);
  const log = join(dir, 'dovecot.log');
  await writeFile(join(dir, 'users'), `${o.user}:{PLAIN}${o.password}::::::\n`, { mode: 0o644 });
  const conf = join(dir, 'dovecot.conf');
  await writeFile(
    conf,
    [
      `base_dir = ${dir}/run`,
      `state_dir = ${dir}/state`,
      `log_path = ${log}`,
      'protocols =',
      'ssl = no',
      // Postfix tells Dovecot whether the SMTP session is encrypted; the submission service
      // allows AUTH only after STARTTLS anyway (smtpd_tls_auth_only).
      'auth_mechanisms = plain login',
      'passdb {',
      '  driver = passwd-file',
      `  args = scheme=PLAIN username_format=%u ${dir}/users`,
      '}',
      'userdb {',
      '  driver = static',
      '  args = uid=nobody gid=nogroup home=/nonexistent',
      '}',
      'service auth {',
      `  unix_listener ${o.socket} {`,
      '    mode = 0660',
      '    user = postfix',
      '    group = postfix',
      '  }',
      '}',
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn('/usr/sbin/dovecot', ['-F', '-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const logs = (): string => `${stderr}${existsSync(log) ? readFileSync(log, 'utf8') : ''}`;
  for (let i = 0; i < 200 && !existsSync(o.socket); i++) {
    if (child.exitCode !== null) throw new Error(`dovecot exited: ${logs()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  if (!existsSync(o.socket)) {
    await stopChild(child);
    throw new Error(`dovecot made no auth socket at ${o.socket}: ${logs()}`);
  }
  return {
    socket: o.socket,
    logs,
    async stop() {
      await stopChild(child);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
