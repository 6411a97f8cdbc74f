/**
 * A private Postfix (own config, queue and data directories in a temp dir) whose only job
 * is to take mail from its `sendmail -C DIR` and relay it to 127.0.0.1:PORT (smtp-sink):
 * the delivery path of `transport: sendmail` end to end. Runs `postfix -c DIR start-fg` as
 * our child, so stop() really stops it. Needs root (Postfix's master drops to mail_owner).
 *
 * Written for the reports tests because the shared Postfix harness (test/support/postfix.ts)
 * was not in the tree yet; switch to it once it is.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, cpSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function postfixMissing(): string | undefined {
  if (!existsSync('/usr/sbin/postfix') || !existsSync('/usr/sbin/sendmail')) return 'Postfix not installed';
  if (process.getuid?.() !== 0) return 'a private Postfix needs root (master drops privileges to mail_owner)';
  return undefined;
}

export interface PostfixRelay {
  readonly configDir: string;
  readonly sendmailArgs: readonly string[];
  /** Resolves when the maillog shows `status=sent` for `rcpt` (or rejects after timeoutMs). */
  waitDelivered(rcpt: string, timeoutMs?: number): Promise<string>;
  logs(): string;
  stop(): Promise<void>;
}

function uidOf(user: string): number {
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith(`${user}:`));
  if (!line) throw new Error(`no user ${user}`);
  return Number(line.split(':')[2]);
}

export async function startPostfixRelay(relayPort: number): Promise<PostfixRelay> {
  const dir = await mkdtemp(join(tmpdir(), 'mailanchor-postfix-'));
  chmodSync(dir, 0o755); // the postfix user must reach its queue
  const conf = join(dir, 'conf');
  mkdirSync(conf);
  mkdirSync(join(dir, 'queue'));
  mkdirSync(join(dir, 'data'));
  chownSync(join(dir, 'data'), uidOf('postfix'), -1);
  copyFileSync('/etc/postfix/postfix-files', join(conf, 'postfix-files'));
  for (const extra of ['postfix-files.d', 'dynamicmaps.cf', 'dynamicmaps.cf.d']) {
    if (existsSync(`/etc/postfix/${extra}`)) cpSync(`/etc/postfix/${extra}`, join(conf, extra), { recursive: true });
  }
  const maillog = join(dir, 'maillog');
  await writeFile(
    join(conf, 'main.cf'),
    [
      'compatibility_level = 3.6',
      `queue_directory = ${dir}/queue`,
      `data_directory = ${dir}/data`,
      `meta_directory = ${conf}`,
      'command_directory = /usr/sbin',
      'daemon_directory = /usr/lib/postfix/sbin',
      'shlib_directory = /usr/lib/postfix',
      'mail_owner = postfix',
      'setgid_group = postdrop',
      'inet_interfaces = 127.0.0.1',
      'inet_protocols = ipv4',
      'myhostname = mx.anchor.test',
      'mydomain = anchor.test',
      'myorigin = anchor.test',
      'mydestination =',
      `relayhost = [127.0.0.1]:${relayPort}`,
      'smtp_tls_security_level = none',
      'disable_dns_lookups = yes',
      `maillog_file = ${maillog}`,
      `maillog_file_prefixes = ${dir}`,
      'syslog_name = postfix-mailanchor-test',
      'alias_maps =',
      'alias_database =',
      'local_recipient_maps =',
      '',
    ].join('\n'),
  );
  // Only what sendmail → pickup → cleanup → qmgr → smtp needs; no smtpd, no local delivery.
  await writeFile(
    join(conf, 'master.cf'),
    [
      'pickup    unix  n - n 60 1 pickup -o pickup_interval=1',
      'cleanup   unix  n - n - 0 cleanup',
      'qmgr      unix  n - n 300 1 qmgr',
      'rewrite   unix  - - n - - trivial-rewrite',
      'bounce    unix  - - n - 0 bounce',
      'defer     unix  - - n - 0 bounce',
      'trace     unix  - - n - 0 bounce',
      'verify    unix  - - n - 1 verify',
      'flush     unix  n - n 1000? 0 flush',
      'proxymap  unix  - - n - - proxymap',
      'smtp      unix  - - n - - smtp',
      'relay     unix  - - n - - smtp',
      'showq     unix  n - n - - showq',
      'error     unix  - - n - - error',
      'retry     unix  - - n - - error',
      'discard   unix  - - n - - discard',
      'anvil     unix  - - n - 1 anvil',
      'scache    unix  - - n - 1 scache',
      'postlog   unix-dgram n - n - 1 postlogd',
      '',
    ].join('\n'),
  );
  const logs = () => (existsSync(maillog) ? readFileSync(maillog, 'utf8') : '');
  await new Promise<void>((resolve, reject) =>
    execFile('/usr/sbin/postfix', ['-c', conf, 'check'], (err, _o, stderr) => (err ? reject(new Error(`postfix check: ${stderr}`)) : resolve())),
  );
  const child: ChildProcess = spawn('/usr/sbin/postfix', ['-c', conf, 'start-fg'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  for (let i = 0; i < 100 && !existsSync(join(dir, 'queue', 'public', 'pickup')); i++) {
    if (child.exitCode !== null) throw new Error(`postfix start-fg exited: ${stderr}\n${logs()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    configDir: conf,
    sendmailArgs: ['-C', conf],
    logs,
    async waitDelivered(rcpt, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      const re = new RegExp(`to=<${rcpt.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}>.*status=sent`);
      for (;;) {
        const line = logs().split('\n').find((l) => re.test(l));
        if (line) return line;
        if (Date.now() > deadline) throw new Error(`no delivery to ${rcpt} within ${timeoutMs} ms:\n${logs()}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        await new Promise<void>((resolve) => execFile('/usr/sbin/postfix', ['-c', conf, 'stop'], () => resolve()));
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
