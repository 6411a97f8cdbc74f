/**
 * The shipped Postfix fragments on Debian's stock Postfix, as a postmaster would deploy them:
 * main.cf from Debian's main.cf.debian + main.cf.tls and master.cf from master.cf.dist
 * (chroot as Debian ships it: smtpd, cleanup, pickup chrooted into the queue directory),
 * both fragments appended unchanged; mailanchor installed by deploy/install.sh (compiled
 * code, pinned Node) into a scratch root and started as its installed unit starts it — as
 * user mailanchor, no supplementary groups, UMask=, ExecStartPre check-config, the installed
 * config with its socket in the queue directory, the socket directory made from the shipped
 * tmpfiles.d line. Then:
 *   - mail over SMTP (port 25) from outside gets our Authentication-Results;
 *   - mail from a local client, from a SASL user on the submission service (587, STARTTLS,
 *     Dovecot SASL) and via sendmail(1) is DKIM-signed (python3-dkim verifies it);
 *   - with the milter stopped, milter_default_action = tempfail: 451 over SMTP, and the
 *     sendmail message stays queued, not delivered unsigned;
 * and with chroot turned off everywhere, the same fragments still reach the milter.
 * The host needs the mailanchor system user for setpriv: it is made from the shipped
 * sysusers.d file (idempotent, what the install step does on a real host).
 */
import test from 'ava';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dkimRecordForKey } from '../../src/keys/dkim-record.ts';
import { stopChild } from '../support/child.ts';
import { pythonDkimVerify } from '../support/dkim-verifiers.ts';
import { dovecotMissing, startDovecotAuth, type DovecotAuth } from '../support/dovecot-auth.ts';
import { knotMissing, startKnot, type KnotServer } from '../support/knot.ts';
import { postfixMissing, startDebianPostfix, swaksTo, type DebianPostfix } from '../support/postfix.ts';
import { createScratchRoot, installMissing, REPO, type ScratchRoot } from '../support/scratch-root.ts';
import { smtpSinkMissing, startSmtpSink, type SmtpSink } from '../support/smtp-sink.ts';
import { parseUnit, runAsService, runStartPre, spawnExecStart, type ServiceUnit } from '../support/systemd-unit.ts';

const swaksTls = (): string | undefined => {
  if (!existsSync('/usr/bin/swaks')) return 'swaks not installed';
  return /=== TLS supported/.test(spawnSync('/usr/bin/swaks', ['--support'], { encoding: 'utf8' }).stdout) ? undefined : 'swaks without TLS (libnet-ssleay-perl)';
};
const missing = postfixMissing() ?? installMissing() ?? smtpSinkMissing() ?? knotMissing() ?? dovecotMissing() ?? swaksTls() ?? (existsSync('/usr/bin/setpriv') ? undefined : 'setpriv (util-linux) not installed');
const it = missing ? test.serial.skip : test.serial;
if (missing) test.skip(`Postfix as Debian ships it: ${missing}`, () => {});

const CLIENT = '192.0.2.10';
const MAIN_FRAGMENT = readFileSync(join(REPO, 'postfix/main.cf.fragment'), 'utf8');
const MASTER_FRAGMENT = readFileSync(join(REPO, 'postfix/master.cf.fragment'), 'utf8');

let root: ScratchRoot;
let dir = '';
let knot: KnotServer | undefined;
let sink: SmtpSink | undefined;
let unit: ServiceUnit;
const records: Record<string, string> = {};
const cleanups: Array<() => Promise<void>> = [];

/** One milter, started from the installed unit for one Postfix instance's queue directory. */
interface Milter {
  readonly child: ChildProcess;
  readonly socket: string;
  output(): string;
  stop(): Promise<void>;
}

const installedPath = (p: string): string => (p.startsWith('/opt/mailanchor') ? root.at(p) : p);

async function startMilterFor(queueDir: string, name: string): Promise<Milter> {
  // The socket directory from the shipped tmpfiles.d line, moved to this instance's queue.
  const tmpfiles = readFileSync(root.at('/usr/local/lib/tmpfiles.d/mailanchor.conf'), 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('d /var/spool/postfix/mailanchor '))
    .map((l) => l.replace('/var/spool/postfix/', `${queueDir}/`));
  if (tmpfiles.length !== 1) throw new Error('no socket directory line in tmpfiles.d/mailanchor.conf');
  writeFileSync(join(dir, `${name}.tmpfiles.conf`), `${tmpfiles[0]}\n`);
  execFileSync('systemd-tmpfiles', ['--create', join(dir, `${name}.tmpfiles.conf`)]);
  // The installed config, its socket in this queue directory, DNS on our Knot.
  const config = join(dir, `${name}.yml`);
  const installed = readFileSync(root.at('/etc/mailanchor/mailanchor.yml'), 'utf8');
  if (!installed.includes('unix:/var/spool/postfix/mailanchor/milter.sock')) throw new Error(`the installed config does not listen in the queue directory:\n${installed}`);
  writeFileSync(config, `${installed.replace('/var/spool/postfix/', `${queueDir}/`)}\ndns:\n  servers: ["${knot!.server.host}:${knot!.server.port}"]\n`);
  chownSync(config, 0, gidOf('mailanchor'));
  const state = join(dir, `${name}-state`);
  mkdirSync(state, { mode: 0o700 });
  chownSync(state, uidOf('mailanchor'), gidOf('mailanchor'));
  const o = { map: (a: string) => (a === '/etc/mailanchor/mailanchor.yml' ? config : installedPath(a)), stateDirectory: state };
  // An RSA key for anchor.test, imported by the admin as the service user.
  const key = join(dir, `${name}-s1.key`);
  execFileSync('openssl', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', key], { stdio: 'ignore' });
  chownSync(key, uidOf('mailanchor'), -1);
  const imported = runAsService(unit, `/opt/mailanchor/bin/mailanchor keys import --domain anchor.test --selector ${name} --key ${key} --config /etc/mailanchor/mailanchor.yml`, o);
  if (imported.status !== 0 || !/imported rsa-sha256 .* as active/.test(imported.output)) throw new Error(`keys import: ${imported.output}`);
  const pub = execFileSync('openssl', ['pkey', '-in', key, '-pubout'], { encoding: 'utf8' });
  records[`${name}._domainkey.anchor.test`] = dkimRecordForKey('rsa-sha256', pub);

  runStartPre(unit, o);
  const child = spawnExecStart(unit, o);
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const socket = join(queueDir, 'mailanchor/milter.sock');
  for (let i = 0; i < 200 && !/listening on/.test(out); i++) {
    if (child.exitCode !== null) throw new Error(`the milter exited: ${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  if (!existsSync(socket)) throw new Error(`no socket at ${socket}: ${out}`);
  const m = { child, socket, output: () => out, stop: () => stopChild(child, 10_000) };
  cleanups.push(m.stop);
  return m;
}

function idOf(file: string, name: string): number {
  const line = readFileSync(file, 'utf8').split('\n').find((l) => l.startsWith(`${name}:`));
  if (!line) throw new Error(`no ${name} in ${file}`);
  return Number(line.split(':')[2]);
}
const uidOf = (u: string): number => idOf('/etc/passwd', u);
const gidOf = (g: string): number => idOf('/etc/group', g);

/** The message as the sink received it: its X-* envelope lines off, CRLF line ends again (the dump has LF). */
async function deliveredTo(pf: DebianPostfix, rcpt: string): Promise<Buffer> {
  await pf.waitDelivered(rcpt, 30_000);
  const m = (await sink!.messages()).find((x) => x.rcpt === rcpt);
  if (!m) throw new Error(`no message for ${rcpt} in the sink`);
  return Buffer.from(m.raw.toString('latin1').replace(/^(X-(Client|Helo|Mail|Rcpt)-[A-Za-z]+:.*\r?\n)+/i, '').replace(/\r?\n/g, '\r\n'), 'latin1');
}

function sendmail(pf: DebianPostfix, from: string, rcpt: string, subject: string): void {
  const msg = `From: Alice <${from}>\nTo: <${rcpt}>\nSubject: ${subject}\nDate: ${new Date().toUTCString()}\nMessage-ID: <${subject.replace(/\W/g, '')}.${Date.now()}@anchor.test>\n\nsent with sendmail(1)\n`;
  execFileSync('/usr/sbin/sendmail', [...pf.sendmailArgs, '-f', from, '--', rcpt], { input: msg });
}

/** master.cf's chroot column of these services, as Postfix reads it. */
function chrootColumn(pf: DebianPostfix, services: readonly string[]): string[] {
  const out = execFileSync('/usr/sbin/postconf', ['-c', pf.configDir, '-F', ...services.map((s) => `${s}/chroot`)], { encoding: 'utf8' });
  const values = new Map(out.trim().split('\n').map((l) => l.split(' = ') as [string, string]));
  return services.map((s) => values.get(`${s}/chroot`) ?? '?');
}

const message = (from: string, rcpt: string, subject: string): string[] => ['--from', from, '--to', rcpt, '--header', `From: Alice <${from}>`, '--header', `Subject: ${subject}`, '--body', `${subject}\r\n`];

const header = (raw: Buffer, name: string): string[] => {
  const head = raw.toString('latin1').split(/\r?\n\r?\n/)[0]!.replace(/\r?\n[ \t]+/g, ' ');
  return head.split(/\r?\n/).filter((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`));
};

test.before(async () => {
  if (missing) return;
  root = await createScratchRoot();
  root.install();
  // The service user on this host, from the shipped sysusers.d file (what install.sh runs).
  execFileSync('systemd-sysusers', [root.at('/usr/local/lib/sysusers.d/mailanchor.conf')]);
  unit = parseUnit(readFileSync(root.at('/usr/local/lib/systemd/system/mailanchor-milter.service'), 'utf8'));
  dir = await mkdtemp(join(tmpdir(), 'mailanchor-debian-'));
  execFileSync('chmod', ['0755', dir]);
  knot = await startKnot({
    zones: [
      { name: 'test', records: '' },
      { name: 'sender.test', records: [`@ IN TXT "v=spf1 ip4:${CLIENT} -all"`, '_dmarc IN TXT "v=DMARC1; p=none"', `mail IN A ${CLIENT}`].join('\n') },
      { name: 'anchor.test', records: '_dmarc IN TXT "v=DMARC1; p=none"' },
      { name: '2.0.192.in-addr.arpa', records: '10 IN PTR mail.sender.test.' },
    ],
  });
  sink = await startSmtpSink();
});

test.after.always(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
  await sink?.stop();
  await knot?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
  await root?.remove();
});

/** Test-environment parameters: a SASL backend for submission, XCLIENT for a remote client's address, our relay domain. */
const ENVIRONMENT = {
  smtpd_sasl_type: 'dovecot',
  smtpd_sasl_path: 'private/auth',
  smtpd_authorized_xclient_hosts: '127.0.0.0/8',
  relay_domains: 'example.net',
};

it('chroot on (Debian\'s default): SMTP gets A-R, local, submission and sendmail mail is signed; a stopped milter means 4xx, not unsigned mail', async (t) => {
  let dovecot: DovecotAuth | undefined;
  const pf = await startDebianPostfix({
    relayPort: sink!.port,
    chroot: true,
    main: ENVIRONMENT,
    mainAppend: MAIN_FRAGMENT,
    masterAppend: MASTER_FRAGMENT,
    beforeStart: async (queue) => {
      dovecot = await startDovecotAuth({ socket: join(queue, 'private/auth'), user: 'alice@anchor.test', password: 'correct horse' });
    },
  });
  cleanups.push(() => pf.stop(), async () => dovecot?.stop());

  // The fragments as Debian's tools see them: no warning, no service twice, no self-reference.
  t.is(pf.checkOutput.trim(), '', `postfix check: ${pf.checkOutput}`);
  const services = execFileSync('/usr/sbin/postconf', ['-c', pf.configDir, '-M'], { encoding: 'utf8' })
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(/\s+/).slice(0, 2).join('/'));
  t.deepEqual(services.filter((s, i) => services.indexOf(s) !== i), [], 'no service defined twice');
  t.true(services.includes('submission/inet') && services.includes('smtp/inet'));
  t.deepEqual(chrootColumn(pf, ['smtp/inet', 'submission/inet', 'cleanup/unix', 'pickup/unix']), ['y', 'y', 'y', 'y']);
  const expanded = spawnSync('/usr/sbin/postconf', ['-c', pf.configDir, '-x', 'smtpd_milters', 'non_smtpd_milters'], { encoding: 'utf8' });
  t.is(expanded.stderr, '', 'postconf expands the milter parameters without a warning');
  t.is(expanded.stdout, 'smtpd_milters = unix:mailanchor/milter.sock\nnon_smtpd_milters = unix:mailanchor/milter.sock\n');

  const milter = await startMilterFor(pf.queueDir, 'on');
  // Started as the unit starts it: user mailanchor, socket group postfix from the directory, 0660.
  const st = statSync(milter.socket);
  t.deepEqual([st.uid, st.gid, (st.mode & 0o777).toString(8)], [uidOf('mailanchor'), gidOf('postfix'), '660']);
  const status = readFileSync(`/proc/${milter.child.pid}/status`, 'utf8');
  // setpriv execs sh, which execs the command: the pid is the milter's.
  t.regex(status, new RegExp(`^Uid:\\t${uidOf('mailanchor')}\\t`, 'm'));
  t.regex(status, /^Groups:\s*$/m, 'no supplementary groups (not in group postfix)');

  // 1. From outside over SMTP: verified, our Authentication-Results, not signed.
  const inbound = await swaksTo(pf.address, pf.smtpPort, ['--xclient-addr', CLIENT, '--xclient-name', 'mail.sender.test', '--helo', 'mail.sender.test', ...message('carol@sender.test', 'in@example.net', 'inbound')]);
  t.is(inbound.code, 0, inbound.output);
  const inRaw = await deliveredTo(pf, 'in@example.net');
  const ar = header(inRaw, 'Authentication-Results');
  t.is(ar.length, 1, ar.join('\n'));
  t.regex(ar[0]!, /^Authentication-Results: mx\.anchor\.test;.* spf=pass \([^)]*\) smtp\.mailfrom=carol@sender\.test/);
  t.regex(ar[0]!, /; dmarc=pass .*header\.from=sender\.test/);
  t.regex(ar[0]!, /; iprev=pass /);
  t.deepEqual(header(inRaw, 'DKIM-Signature'), []);

  // 2. A local client over SMTP (mynetworks, outbound.trusted_networks): signed.
  const local = await swaksTo(pf.address, pf.smtpPort, message('alice@anchor.test', 'local@example.net', 'local client'));
  t.is(local.code, 0, local.output);
  const localRaw = await deliveredTo(pf, 'local@example.net');
  t.regex(header(localRaw, 'DKIM-Signature')[0] ?? '', /d=anchor\.test; s=on;/);
  t.deepEqual(await pythonDkimVerify(localRaw, records), [true]);

  // 3. The submission service: STARTTLS, SASL through Dovecot, then signed.
  const refused = await swaksTo(pf.address, pf.submissionPort, ['--tls', ...message('alice@anchor.test', 'nosasl@example.net', 'no login')]);
  t.not(refused.code, 0, 'submission refuses mail without SASL');
  const sub = await swaksTo(pf.address, pf.submissionPort, ['--tls', '--auth', 'PLAIN', '--auth-user', 'alice@anchor.test', '--auth-password', 'correct horse', ...message('alice@anchor.test', 'sub@example.net', 'submission')]);
  t.is(sub.code, 0, `${sub.output}\n${dovecot?.logs()}`);
  const subRaw = await deliveredTo(pf, 'sub@example.net');
  t.deepEqual(await pythonDkimVerify(subRaw, records), [true]);
  t.regex(pf.logs(), /postfix\/submission\/smtpd\[\d+\]: [0-9A-F]+: client=.*sasl_method=PLAIN, sasl_username=alice@anchor\.test/);

  // 4. sendmail(1) → postdrop → pickup → cleanup (non_smtpd_milters), chrooted: signed.
  sendmail(pf, 'alice@anchor.test', 'cron@example.net', 'sendmail');
  const sentRaw = await deliveredTo(pf, 'cron@example.net');
  t.deepEqual(await pythonDkimVerify(sentRaw, records), [true]);

  // 5. The milter stopped: milter_default_action = tempfail everywhere.
  await milter.stop();
  const deferred = await swaksTo(pf.address, pf.smtpPort, message('alice@anchor.test', 'down@example.net', 'milter down'));
  t.not(deferred.code, 0);
  t.regex(deferred.output, /<\*\* +451 4\.7\.1 Service unavailable - try again later/);
  sendmail(pf, 'alice@anchor.test', 'down-local@example.net', 'milter down local');
  // cleanup (pickup's mail) meets the missing milter only now; smtpd's earlier warnings are not it.
  t.log(await pf.waitLog(/\/cleanup\[\d+\]: warning: connect to Milter service unix:mailanchor\/milter\.sock: (No such file or directory|Connection refused)/, 20_000));
  await new Promise((r) => setTimeout(r, 2000));
  t.false((await sink!.messages()).some((m) => m.rcpt === 'down@example.net' || m.rcpt === 'down-local@example.net'), 'nothing went out unsigned');
  t.true(readdirSync(join(pf.queueDir, 'maildrop')).length + readdirSync(join(pf.queueDir, 'incoming')).length > 0, 'the sendmail message waits in the queue');
  t.regex(pf.logs(), /\/cleanup\[\d+\]: [0-9A-F]+: milter-reject: CONNECT from localhost\[127\.0\.0\.1\]: 4\.7\.1 Service unavailable - try again later; from=<alice@anchor\.test>/);
});

it('chroot off everywhere: the same fragments reach the same socket', async (t) => {
  const pf = await startDebianPostfix({ relayPort: sink!.port, chroot: false, main: { smtpd_authorized_xclient_hosts: '127.0.0.0/8', relay_domains: 'example.net', smtpd_sasl_type: 'dovecot', smtpd_sasl_path: 'private/auth' }, mainAppend: MAIN_FRAGMENT, masterAppend: MASTER_FRAGMENT });
  cleanups.push(() => pf.stop());
  t.deepEqual(chrootColumn(pf, ['smtp/inet', 'cleanup/unix', 'pickup/unix']), ['n', 'n', 'n']);
  await startMilterFor(pf.queueDir, 'off');
  const inbound = await swaksTo(pf.address, pf.smtpPort, ['--xclient-addr', CLIENT, '--xclient-name', 'mail.sender.test', '--helo', 'mail.sender.test', ...message('carol@sender.test', 'in-off@example.net', 'inbound, no chroot')]);
  t.is(inbound.code, 0, inbound.output);
  t.regex(header(await deliveredTo(pf, 'in-off@example.net'), 'Authentication-Results')[0] ?? '', /spf=pass/);
  sendmail(pf, 'alice@anchor.test', 'cron-off@example.net', 'sendmail no chroot');
  const raw = await deliveredTo(pf, 'cron-off@example.net');
  t.regex(header(raw, 'DKIM-Signature')[0] ?? '', /s=off;/);
  t.deepEqual(await pythonDkimVerify(raw, records), [true]);
});
