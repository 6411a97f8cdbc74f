/**
 * Starts the milters under test from the configuration templates in bench/peers/, each on
 * free loopback ports, in the foreground (no daemons), and stops them afterwards. A running
 * peer is a chain of milter endpoints (as Postfix's smtpd_milters lists them) plus the root
 * processes whose trees are measured (RSS, CPU).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../test/support/ports.ts';
import { AUTHSERV_ID, OUR_DOMAIN } from './corpus.ts';
import type { MilterEndpoint } from './chain-driver.ts';
import { stopChild, waitForListening } from '../test/support/child.ts';

export interface RunningPeer {
  readonly name: string;
  readonly chain: readonly MilterEndpoint[];
  readonly processes: readonly ChildProcess[];
  stop(): Promise<void>;
}

export interface PeerEnv {
  /** Scratch directory for this peer's filled-in configs, pid files and logs. */
  readonly runDir: string;
  readonly dnsAddress: string;
  readonly keysDir: string;
}

const PEERS_DIR = join(import.meta.dirname, 'peers');

export function fill(template: string, vars: Record<string, string>): string {
  return template.replace(/@([A-Z_]+)@/g, (all, k: string) => vars[k] ?? all);
}

/**
 * Starts a peer in the foreground, keeping the last 200 chunks of its output (`output()`),
 * written to `logFile` when it exits.
 */
export function startProcess(cmd: string, args: string[], logFile: string, options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): ChildProcess & { output(): string } {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  const chunks: string[] = [];
  const keep = (d: Buffer): void => {
    chunks.push(d.toString());
    if (chunks.length > 200) chunks.shift();
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  child.on('exit', () => writeFileSync(logFile, chunks.join('')));
  return Object.assign(child, { output: () => chunks.join('') });
}


async function stopAll(children: readonly ChildProcess[]): Promise<void> {
  await Promise.all(children.map((c) => stopChild(c)));
}

/** OpenDKIM (verify + sign) followed by OpenDMARC, two milters in sequence. */
export async function startOpendkimOpendmarc(env: PeerEnv): Promise<RunningPeer> {
  mkdirSync(env.runDir, { recursive: true });
  const [dkimPort, dmarcPort] = [await freePort(), await freePort()];
  const vars = { RUNDIR: env.runDir, DNS_ADDRESS: env.dnsAddress, KEYS_DIR: env.keysDir, OUR_DOMAIN, AUTHSERV_ID };
  const dkimConf = join(env.runDir, 'opendkim.conf');
  writeFileSync(dkimConf, fill(readFileSync(join(PEERS_DIR, 'opendkim/opendkim.conf'), 'utf8'), { ...vars, PORT: String(dkimPort) }));
  writeFileSync(join(env.runDir, 'opendkim-key.table'), fill(readFileSync(join(PEERS_DIR, 'opendkim/key.table'), 'utf8'), vars));
  writeFileSync(join(env.runDir, 'opendkim-signing.table'), fill(readFileSync(join(PEERS_DIR, 'opendkim/signing.table'), 'utf8'), vars));
  const dmarcConf = join(env.runDir, 'opendmarc.conf');
  writeFileSync(dmarcConf, fill(readFileSync(join(PEERS_DIR, 'opendmarc/opendmarc.conf'), 'utf8'), { ...vars, PORT: String(dmarcPort) }));
  writeFileSync(join(env.runDir, 'opendmarc-ignore.hosts'), readFileSync(join(PEERS_DIR, 'opendmarc/ignore.hosts')));
  const resolvConf = join(env.runDir, 'resolv.conf');
  writeFileSync(resolvConf, `nameserver ${env.dnsAddress}\noptions attempts:2 timeout:2\n`);

  const dkim = startProcess('/usr/sbin/opendkim', ['-f', '-x', dkimConf], join(env.runDir, 'opendkim.log'));
  // OpenDMARC's libc resolver reads /etc/resolv.conf: give it a private one (see dns.ts).
  const dmarc = startProcess('/usr/bin/unshare', ['-m', '/bin/sh', '-c', `mount --bind "$1" /etc/resolv.conf && exec /usr/sbin/opendmarc -f -c "$2"`, 'sh', resolvConf, dmarcConf], join(env.runDir, 'opendmarc.log'));
  try {
    await waitForListening(dkim, dkimPort, 'opendkim', { attempts: 1200 });
    await waitForListening(dmarc, dmarcPort, 'opendmarc', { attempts: 1200 });
  } catch (e) {
    await stopAll([dkim, dmarc]);
    throw e;
  }
  return {
    name: 'opendkim+opendmarc',
    chain: [
      { host: '127.0.0.1', port: dkimPort },
      { host: '127.0.0.1', port: dmarcPort },
    ],
    processes: [dkim, dmarc],
    stop: () => stopAll([dkim, dmarc]),
  };
}

/** rspamd's proxy worker in milter mode, self-scanning, one worker per core. */
export async function startRspamd(env: PeerEnv): Promise<RunningPeer> {
  mkdirSync(join(env.runDir, 'db'), { recursive: true });
  const port = await freePort();
  const conf = join(env.runDir, 'rspamd.conf');
  writeFileSync(conf, fill(readFileSync(join(PEERS_DIR, 'rspamd/rspamd.conf'), 'utf8'), { DNS_ADDRESS: env.dnsAddress, KEYS_DIR: env.keysDir, PORT: String(port), WORKERS: String(cpus().length) }));
  const child = startProcess('/usr/bin/rspamd', ['-f', '-i', '-u', 'root', '-g', 'root', '-c', conf, '--var', `RUNDIR=${env.runDir}`, '--var', `DBDIR=${join(env.runDir, 'db')}`, '--var', `LOGDIR=${env.runDir}`], join(env.runDir, 'rspamd.log'));
  try {
    // rspamd compiles its TLD list (~16 s here) before it listens: allow a minute.
    await waitForListening(child, port, 'rspamd', { attempts: 1200 });
  } catch (e) {
    await stopAll([child]);
    throw e;
  }
  return { name: 'rspamd', chain: [{ host: '127.0.0.1', port }], processes: [child], stop: () => stopAll([child]) };
}
