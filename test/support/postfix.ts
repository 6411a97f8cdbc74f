/**
 * A private, real Postfix for tests: own config, queue, data directory and log in a temp
 * dir, run as our child (`postfix -c DIR start-fg`) so stop() really stops it. Optional
 * smtpd on 127.0.0.1:PORT with milters, relaying everything to 127.0.0.1:relayPort
 * (smtp-sink). Several instances run side by side (ava runs files in parallel).
 * Needs root: Postfix's master drops privileges to mail_owner.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, cpSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, listening } from './ports.ts';

export function postfixMissing(): string | undefined {
  if (!existsSync('/usr/sbin/postfix') || !existsSync('/usr/sbin/sendmail')) return 'Postfix not installed';
  if (process.getuid?.() !== 0) return 'a private Postfix needs root (master drops privileges to mail_owner)';
  return undefined;
}

export interface PostfixOptions {
  /** Where everything is relayed (smtp-sink). */
  readonly relayPort: number;
  /** Run an smtpd on 127.0.0.1:<free port>. */
  readonly smtpd?: boolean;
  /** Extra main.cf lines, e.g. `smtpd_milters = inet:127.0.0.1:8891`. */
  readonly main?: Readonly<Record<string, string>>;
  /** Extra `-o name=value` for the smtpd service. */
  readonly smtpdOptions?: Readonly<Record<string, string>>;
}

export interface Postfix {
  readonly configDir: string;
  /** smtpd's port when `smtpd: true`. */
  readonly smtpPort: number;
  readonly sendmailArgs: readonly string[];
  /** Resolves with the maillog line when `status=sent` shows for `rcpt`. */
  waitDelivered(rcpt: string, timeoutMs?: number): Promise<string>;
  /** Resolves with the first maillog line matching `re`. */
  waitLog(re: RegExp, timeoutMs?: number): Promise<string>;
  logs(): string;
  stop(): Promise<void>;
}

function uidOf(user: string): number {
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith(`${user}:`));
  if (!line) throw new Error(`no user ${user}`);
  return Number(line.split(':')[2]);
}


export async function startPostfix(o: PostfixOptions): Promise<Postfix> {
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
  const smtpPort = o.smtpd ? await freePort() : 0;
  const maillog = join(dir, 'maillog');
  const main: Record<string, string> = {
    compatibility_level: '3.6',
    queue_directory: `${dir}/queue`,
    data_directory: `${dir}/data`,
    meta_directory: conf,
    command_directory: '/usr/sbin',
    daemon_directory: '/usr/lib/postfix/sbin',
    shlib_directory: '/usr/lib/postfix',
    mail_owner: 'postfix',
    setgid_group: 'postdrop',
    inet_interfaces: '127.0.0.1',
    inet_protocols: 'ipv4',
    myhostname: 'mx.anchor.test',
    mydomain: 'anchor.test',
    myorigin: 'anchor.test',
    mydestination: '',
    mynetworks: '127.0.0.0/8',
    relay_domains: '',
    smtpd_relay_restrictions: 'permit_mynetworks, reject_unauth_destination',
    relayhost: `[127.0.0.1]:${o.relayPort}`,
    smtp_tls_security_level: 'none',
    disable_dns_lookups: 'yes',
    smtpd_peername_lookup: 'no',
    maillog_file: maillog,
    maillog_file_prefixes: dir,
    syslog_name: `postfix-mailanchor-${smtpPort || 'relay'}`,
    alias_maps: '',
    alias_database: '',
    local_recipient_maps: '',
    // Failures should show at once in tests, not after minutes of retrying.
    milter_connect_timeout: '5s',
    ...o.main,
  };
  await writeFile(join(conf, 'main.cf'), `${Object.entries(main).map(([k, v]) => `${k} = ${v}`).join('\n')}\n`);
  const smtpdOpts = Object.entries(o.smtpdOptions ?? {}).map(([k, v]) => ` -o ${k}=${v}`).join('');
  await writeFile(
    join(conf, 'master.cf'),
    [
      ...(o.smtpd ? [`127.0.0.1:${smtpPort} inet n - n - - smtpd${smtpdOpts}`] : []),
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
  const logs = (): string => (existsSync(maillog) ? readFileSync(maillog, 'utf8') : '');
  await new Promise<void>((resolve, reject) =>
    execFile('/usr/sbin/postfix', ['-c', conf, 'check'], (err, _o, stderr) => (err ? reject(new Error(`postfix check: ${stderr}`)) : resolve())),
  );
  const child: ChildProcess = spawn('/usr/sbin/postfix', ['-c', conf, 'start-fg'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const ready = async (): Promise<boolean> => existsSync(join(dir, 'queue', 'public', 'pickup')) && (!o.smtpd || (await listening(smtpPort)));
  for (let i = 0; i < 200 && !(await ready()); i++) {
    if (child.exitCode !== null) throw new Error(`postfix start-fg exited: ${stderr}\n${logs()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const waitLog = async (re: RegExp, timeoutMs = 20_000): Promise<string> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const line = logs().split('\n').find((l) => re.test(l));
      if (line) return line;
      if (Date.now() > deadline) throw new Error(`no maillog line matching ${re} within ${timeoutMs} ms:\n${logs()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  return {
    configDir: conf,
    smtpPort,
    sendmailArgs: ['-C', conf],
    logs,
    waitLog,
    waitDelivered: (rcpt, timeoutMs) => waitLog(new RegExp(`to=<${rcpt.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}>.*status=sent`), timeoutMs),
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

export interface SwaksResult {
  readonly code: number;
  readonly output: string;
}

/** Sends one message with swaks; `args` are extra swaks options. */
export function swaks(port: number, args: readonly string[]): Promise<SwaksResult> {
  return new Promise((resolve) => {
    execFile('/usr/bin/swaks', ['--server', '127.0.0.1', '--port', String(port), '--timeout', '30', ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, output: `${stdout}${stderr}` });
    });
  });
}
