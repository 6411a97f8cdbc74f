/**
 * A validating Unbound on 127.0.0.1:freePort for tests, in front of test Knot servers:
 * no chroot, no daemon (foreground child), no remote control, never the internet.
 *
 * Offline by construction: `local-zone: "." refuse` answers everything outside the test
 * zones with REFUSED, and each test zone is a `stub-zone` (made `transparent` so the
 * refusal does not cover it) pointing at a Knot port. DNSSEC: `module-config: "validator
 * iterator"`, a `trust-anchor` per signed zone (its DS or DNSKEY, e.g. from
 * `KnotServer.ds()`), `val-permissive-mode: no`, `harden-dnssec-stripped: yes` — so a
 * signed zone's answers carry AD=1, unsigned zones (no anchor above them) AD=0, and a
 * bogus signature is SERVFAIL.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { freePort } from './ports.ts';

export interface UnboundStub {
  /** Zone apex, e.g. `example.test`. */
  readonly zone: string;
  /** The authoritative server(s) for it, e.g. `knot.server`. */
  readonly servers: readonly { readonly host: string; readonly port: number }[];
  /**
   * Trust anchor lines for the zone (`zone. DS …` or `zone. DNSKEY …`), e.g. `await knot.ds(zone)`.
   * Absent: the zone is unsigned/insecure (AD=0), unless `insecure: false` is needed to fail stripped answers.
   */
  readonly trustAnchors?: readonly string[];
  /** Add `domain-insecure:` for the zone (skip validation even under an anchor). Default false. */
  readonly insecure?: boolean;
}

export interface UnboundOptions {
  readonly stubs: readonly UnboundStub[];
  /** `cache-max-ttl` and `cache-max-negative-ttl` in seconds; default 0 so tests see changes at once. */
  readonly cacheMaxTtl?: number;
  readonly port?: number;
  /** Unbound verbosity (0–5). Default 1. */
  readonly verbosity?: number;
}

export interface UnboundServer {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** `{ host, port }` for `queryServer`/`createResolver`. */
  readonly server: { readonly host: string; readonly port: number };
  /** `127.0.0.1:PORT`. */
  readonly address: string;
  readonly dir: string;
  /** The generated unbound.conf text (for t.log). */
  readonly config: string;
  logs(): string;
  /** Stops unbound (SIGTERM, SIGKILL after 3 s) and removes the temp dir. Idempotent. */
  stop(): Promise<void>;
}

function findBinary(name: string): string | undefined {
  for (const d of [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin', '/usr/bin']) {
    if (d && existsSync(join(d, name))) return join(d, name);
  }
  return undefined;
}

/** Why Unbound cannot run here, or undefined when it can. */
export function unboundMissing(): string | undefined {
  return findBinary('unbound') ? undefined : 'unbound not installed (Debian package unbound)';
}

const fqdn = (z: string) => `${z.toLowerCase().replace(/\.$/, '')}.`;
const quote = (s: string) => `"${s.replace(/"/g, '')}"`;

export function unboundConfig(dir: string, port: number, options: UnboundOptions): string {
  const ttl = options.cacheMaxTtl ?? 0;
  const lines = [
    'server:',
    `  interface: 127.0.0.1`,
    `  port: ${port}`,
    '  do-ip4: yes',
    '  do-ip6: no',
    '  do-udp: yes',
    '  do-tcp: yes',
    '  do-daemonize: no',
    '  chroot: ""',
    '  username: ""',
    `  directory: ${quote(dir)}`,
    `  pidfile: ${quote(join(dir, 'unbound.pid'))}`,
    '  use-syslog: no',
    '  logfile: ""',
    `  verbosity: ${options.verbosity ?? 1}`,
    '  log-servfail: yes',
    '  val-log-level: 2',
    '  num-threads: 1',
    '  access-control: 127.0.0.0/8 allow',
    '  outgoing-interface: 127.0.0.1',
    // Test zones live on 127.0.0.1: allow querying it (off by default).
    '  do-not-query-localhost: no',
    '  module-config: "validator iterator"',
    '  val-permissive-mode: no',
    '  harden-dnssec-stripped: yes',
    '  qname-minimisation: no',
    '  prefetch: no',
    '  trust-anchor-signaling: no',
    '  root-key-sentinel: no',
    `  cache-max-ttl: ${ttl}`,
    `  cache-max-negative-ttl: ${ttl}`,
    '  edns-buffer-size: 1232',
    // Never the internet: everything outside the stub zones is refused locally.
    '  local-zone: "." refuse',
  ];
  for (const s of options.stubs) {
    lines.push(`  local-zone: ${quote(fqdn(s.zone))} transparent`);
    for (const a of s.trustAnchors ?? []) lines.push(`  trust-anchor: ${quote(a)}`);
    if (s.insecure) lines.push(`  domain-insecure: ${quote(fqdn(s.zone))}`);
  }
  lines.push('remote-control:', '  control-enable: no');
  for (const s of options.stubs) {
    lines.push('stub-zone:', `  name: ${quote(fqdn(s.zone))}`);
    for (const srv of s.servers) lines.push(`  stub-addr: ${srv.host}@${srv.port}`);
  }
  return `${lines.join('\n')}\n`;
}

export async function startUnbound(options: UnboundOptions): Promise<UnboundServer> {
  // As for Knot: the port from freePort() may be taken before unbound binds it; retry.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startUnboundOnce(options);
    } catch (err) {
      if (options.port !== undefined || attempt >= 4 || !/address already in use|could not open ports/i.test(String(err))) throw err;
    }
  }
}

async function startUnboundOnce(options: UnboundOptions): Promise<UnboundServer> {
  const bin = findBinary('unbound');
  if (!bin) throw new Error('unbound not installed');
  const port = options.port ?? (await freePort());
  const dir = await mkdtemp(join(tmpdir(), 'unbound-'));
  const conf = join(dir, 'unbound.conf');
  const config = unboundConfig(dir, port, options);
  await writeFile(conf, config);
  const child: ChildProcess = spawn(bin, ['-d', '-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const collect = (d: Buffer) => {
    out += d.toString('utf8');
    if (out.length > 1_000_000) out = out.slice(-500_000);
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve())));
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (!exited) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exit;
      clearTimeout(killer);
    }
    await rm(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 15_000;
  while (!/start of service/.test(out)) {
    if (exited || Date.now() > deadline) {
      await stop();
      throw new Error(`unbound did not start (port ${port}):\n${out}\n--- config ---\n${config}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { host: '127.0.0.1', port, server: { host: '127.0.0.1', port }, address: `127.0.0.1:${port}`, dir, config, logs: () => out, stop };
}
