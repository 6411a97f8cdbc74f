/**
 * A private, real Postfix for tests: own config, queue, data directory and log in a temp
 * dir, run as our child (`postfix -c DIR start-fg`) so stop() really stops it. Optional
 * smtpd on 127.0.0.1:PORT with milters, relaying everything to 127.0.0.1:relayPort
 * (smtp-sink). Several instances run side by side (ava runs files in parallel).
 * Needs root: Postfix's master drops privileges to mail_owner.
 */
import { spawn, execFile, execFileSync, type ChildProcess } from 'node:child_process';
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

export interface MilterPostfixOptions {
  /** Our milter's TCP port (`inet:127.0.0.1:PORT`). */
  readonly milterPort: number;
  /** Where accepted mail is relayed (smtp-sink). */
  readonly relayPort: number;
  /** `relay_domains`: the recipients smtpd accepts from any client. */
  readonly relayDomains: readonly string[];
  /** `mynetworks`, when the test needs it narrowed (e.g. to 127.0.0.1/32). */
  readonly mynetworks?: string;
}

/**
 * The set-up the end-to-end tests share: smtpd on loopback with our milter as
 * `smtpd_milters` and `milter_default_action = tempfail` (a stopped milter defers, never
 * passes mail through unchecked), XCLIENT allowed from loopback so a test can pose as any
 * internet client, `relay_domains` relayed to the sink.
 */
export function startMilterPostfix(o: MilterPostfixOptions): Promise<Postfix> {
  return startPostfix({
    relayPort: o.relayPort,
    smtpd: true,
    main: {
      smtpd_milters: `inet:127.0.0.1:${o.milterPort}`,
      milter_default_action: 'tempfail',
      smtpd_authorized_xclient_hosts: '127.0.0.0/8',
      relay_domains: o.relayDomains.join(', '),
      ...(o.mynetworks === undefined ? {} : { mynetworks: o.mynetworks }),
    },
  });
}

function uidOf(user: string): number {
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith(`${user}:`));
  if (!line) throw new Error(`no user ${user}`);
  return Number(line.split(':')[2]);
}


/** A temp dir with conf/ (Postfix's own postfix-files, dynamicmaps), queue/ and data/. */
async function instanceDir(): Promise<{ dir: string; conf: string }> {
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
  return { dir, conf };
}

export async function startPostfix(o: PostfixOptions): Promise<Postfix> {
  const { dir, conf } = await instanceDir();
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
  await postfixCheck(conf);
  return runPostfix(dir, conf, maillog, smtpPort, async () => !o.smtpd || (await listening(smtpPort)));
}

/** The instance's maillog (conf/../maillog): with maillog_file set, Postfix's commands log there, not to stderr. */
function maillogOf(conf: string): string {
  const f = join(conf, '..', 'maillog');
  return existsSync(f) ? `\n${readFileSync(f, 'utf8')}` : '';
}

/** `postfix check`: resolves with what it printed (warnings), rejects when it fails. */
function postfixCheck(conf: string): Promise<string> {
  return new Promise<string>((resolve, reject) =>
    execFile('/usr/sbin/postfix', ['-c', conf, 'check'], (err, stdout, stderr) => (err ? reject(new Error(`postfix check: ${stdout}${stderr}${maillogOf(conf)}`)) : resolve(`${stdout}${stderr}`))),
  );
}

/** `postfix start-fg` as our child; ready when pickup's FIFO exists and `listening()` says so. */
async function runPostfix(dir: string, conf: string, maillog: string, smtpPort: number, listeningNow: () => Promise<boolean>): Promise<Postfix> {
  const logs = (): string => (existsSync(maillog) ? readFileSync(maillog, 'utf8') : '');
  const child: ChildProcess = spawn('/usr/sbin/postfix', ['-c', conf, 'start-fg'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const ready = async (): Promise<boolean> => existsSync(join(dir, 'queue', 'public', 'pickup')) && (await listeningNow());
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

/** Sends one message with swaks to 127.0.0.1:`port`; `args` are extra swaks options. */
export function swaks(port: number, args: readonly string[]): Promise<SwaksResult> {
  return swaksTo('127.0.0.1', port, args);
}

/** Sends one message with swaks to `host`:`port`. */
export function swaksTo(host: string, port: number, args: readonly string[]): Promise<SwaksResult> {
  return new Promise((resolve) => {
    execFile('/usr/bin/swaks', ['--server', host, '--port', String(port), '--timeout', '30', ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, output: `${stdout}${stderr}` });
    });
  });
}

// ---------------------------------------------------------------- Debian's stock configuration

export interface DebianPostfixOptions {
  /** Where everything is relayed (smtp-sink). */
  readonly relayPort: number;
  /** Debian's master.cf chroot column as shipped (`y` for smtpd, cleanup, pickup …), or every `y` turned into `n`. */
  readonly chroot: boolean;
  /** Appended to main.cf after everything else, unchanged (the fragment under test). */
  readonly mainAppend?: string;
  /** Appended to Debian's master.cf, unchanged. */
  readonly masterAppend?: string;
  /** This test's own parameters (a SASL backend, XCLIENT …), between Debian's lines and `mainAppend`. */
  readonly main?: Readonly<Record<string, string>>;
  /** Runs once the queue directory exists, before Postfix starts (a socket directory, a SASL server …). */
  readonly beforeStart?: (queueDir: string) => Promise<void>;
}

export interface DebianPostfix extends Postfix {
  /** Where master.cf's `smtp` service listens: 127.0.0.1 and a free port (`smtpPort`). */
  readonly address: string;
  /** Where its `submission` service listens (587 on a real host). */
  readonly submissionPort: number;
  readonly queueDir: string;
  /** What `postfix check` printed (warnings), '' when clean. */
  readonly checkOutput: string;
  readonly mainCf: string;
  readonly masterCf: string;
}

/** A self-signed certificate for smtpd (Debian's main.cf names the snakeoil one, from ssl-cert). */
function selfSignedCert(dir: string): { cert: string; key: string } {
  const cert = join(dir, 'smtpd.pem');
  const key = join(dir, 'smtpd.key');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=mx.anchor.test', '-keyout', key, '-out', cert], { stdio: 'ignore' });
  return { cert, key };
}

/**
 * A private Postfix as Debian ships it: main.cf is /usr/share/postfix/main.cf.debian plus
 * main.cf.tls (what the package writes on a new install), master.cf is
 * /usr/share/postfix/master.cf.dist, both unchanged, then this instance's own locations
 * (queue, data, log, a private loopback address, the relay), the test's `main`, and the
 * appended fragments. The chroot is prepared by Debian's own
 * /usr/lib/postfix/configure-instance.sh, as the postfix@ unit does before every start.
 */
export async function startDebianPostfix(o: DebianPostfixOptions): Promise<DebianPostfix> {
  const { dir, conf } = await instanceDir();
  const queueDir = join(dir, 'queue');
  const maillog = join(dir, 'maillog');
  const address = '127.0.0.1';
  const smtpPort = await freePort();
  const submissionPort = await freePort();
  const tls = selfSignedCert(dir);
  const instance: Record<string, string> = {
    // master.cf's service names, unchanged, on free ports (Postfix 3.6: no services(5) lookup).
    known_tcp_ports: `lmtp=24, smtp=${smtpPort}, smtps=submissions=465, submission=${submissionPort}`,
    queue_directory: queueDir,
    data_directory: join(dir, 'data'),
    myhostname: 'mx.anchor.test',
    mydomain: 'anchor.test',
    myorigin: 'anchor.test',
    mydestination: '',
    inet_interfaces: address,
    inet_protocols: 'ipv4',
    mynetworks: '127.0.0.0/8',
    relayhost: `[127.0.0.1]:${o.relayPort}`,
    disable_dns_lookups: 'yes',
    alias_maps: '',
    alias_database: '',
    smtpd_tls_cert_file: tls.cert,
    smtpd_tls_key_file: tls.key,
    maillog_file: maillog,
    maillog_file_prefixes: dir,
    syslog_name: `postfix-mailanchor-${address}`,
    milter_connect_timeout: '5s',
    ...o.main,
  };
  // A parameter Debian's file sets (the snakeoil certificate) is changed where it stands, as
  // an admin would; the others follow it. Either way no parameter is defined twice.
  let stock = `${readFileSync('/usr/share/postfix/main.cf.debian', 'utf8')}\n${readFileSync('/usr/share/postfix/main.cf.tls', 'utf8')}`;
  const added: string[] = [];
  for (const [k, v] of Object.entries(instance)) {
    const line = new RegExp(`^${k}\\s*=.*$`, 'm');
    if (line.test(stock)) stock = stock.replace(line, `${k} = ${v}`);
    else added.push(`${k} = ${v}`);
  }
  const mainCf = [stock, '# ---- this test instance', ...added, '', o.mainAppend ?? ''].join('\n');
  const dist = readFileSync('/usr/share/postfix/master.cf.dist', 'utf8');
  // The 5th column of a service line is chroot; `n` everywhere for the chroot-off case.
  const master = o.chroot ? dist : dist.replace(/^(\S+\s+\S+\s+\S+\s+\S+\s+)y(\s)/gm, '$1n$2');
  const masterCf = `${master}\n${o.masterAppend ?? ''}`;
  await writeFile(join(conf, 'main.cf'), mainCf);
  await writeFile(join(conf, 'master.cf'), masterCf);
  // Debian's chroot preparation: etc/ files, libraries and /dev/urandom copied into the queue.
  execFileSync('/usr/lib/postfix/configure-instance.sh', ['-'], { env: { ...process.env, MAIL_CONFIG: conf }, cwd: dir, stdio: 'ignore' });
  // `postfix check` also makes the queue's missing directories (private/, public/ …).
  const checkOutput = await postfixCheck(conf);
  await o.beforeStart?.(queueDir);
  const pf = await runPostfix(dir, conf, maillog, smtpPort, async () => (await listening(smtpPort)) && (await listening(submissionPort)));
  return { ...pf, address, submissionPort, queueDir, checkOutput, mainCf, masterCf };
}

