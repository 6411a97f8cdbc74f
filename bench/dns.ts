/**
 * The benchmark's DNS: one Knot DNS (authoritative, real) on loopback serving every record the
 * corpus needs — DKIM keys, SPF, DMARC, and the PTR/A pairs for iprev — so every milter under
 * test resolves the same records from the same server.
 *
 * Why port 53 on a private loopback address (127.77.x.y) rather than a free high port on
 * 127.0.0.1: OpenDMARC's SPF library (libspf2) and its DMARC lookups use the libc resolver,
 * which reads /etc/resolv.conf, and resolv.conf cannot carry a port. OpenDMARC runs in a
 * private mount namespace (`unshare -m`) with a bind-mounted resolv.conf naming this address;
 * OpenDKIM (libunbound, `Nameservers`), rspamd (`dns { nameserver }`) and mailanchor (its
 * `dns` section) are pointed at the same address directly.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { dkimTxt, ED_SELECTOR, INBOUND_NET, LIST_DOMAIN, OUR_DOMAIN, OUTBOUND_NET, RSA_SELECTOR, SENDER_DOMAINS, type DomainKeys } from './corpus.ts';

/** A TXT value as zone-file character-strings of at most 255 octets (RFC 1035 §3.3.14). */
function txt(value: string): string {
  const parts: string[] = [];
  for (let i = 0; i < value.length; i += 250) parts.push(`"${value.slice(i, i + 250)}"`);
  return parts.join(' ');
}

/** The `example.` zone (RFC 2606; not one of unbound's built-in local zones, unlike `test.`) and the two reverse zones, as zone-file text keyed by zone name. */
export function benchZones(keys: readonly DomainKeys[], nsAddress: string): Map<string, string> {
  const soa = (zone: string): string => `$ORIGIN ${zone}\n$TTL 3600\n@ SOA ns.example. hostmaster.example. 1 3600 600 86400 300\n@ NS ns.example.\n`;
  const lines: string[] = [soa('example.'), `ns A ${nsAddress}`];
  const rel = (name: string): string => name.replace(/\.example$/, '');
  for (const k of keys) {
    const d = rel(k.domain);
    lines.push(`${RSA_SELECTOR}._domainkey.${d} TXT ${txt(dkimTxt(k.rsa))}`);
    lines.push(`${ED_SELECTOR}._domainkey.${d} TXT ${txt(dkimTxt(k.ed25519))}`);
  }
  for (const domain of SENDER_DOMAINS) {
    const d = rel(domain);
    lines.push(`${d} TXT "v=spf1 ip4:${INBOUND_NET}.0/24 -all"`, `${d} MX 10 mx.${d}`, `mx.${d} A ${INBOUND_NET}.1`);
    lines.push(`_dmarc.${d} TXT "v=DMARC1; p=reject; adkim=r; aspf=r"`);
  }
  const ours = rel(OUR_DOMAIN);
  lines.push(`${ours} TXT "v=spf1 ip4:${OUTBOUND_NET.split('.').slice(0, 2).join('.')}.0.0/16 -all"`, `${ours} MX 10 mx.${ours}`, `mx.${ours} A 127.0.0.1`);
  lines.push(`_dmarc.${ours} TXT "v=DMARC1; p=quarantine"`);
  lines.push(`${rel(LIST_DOMAIN)} TXT "v=spf1 -all"`, `_dmarc.${rel(LIST_DOMAIN)} TXT "v=DMARC1; p=none"`);
  const inRev: string[] = [soa(`${INBOUND_NET.split('.').reverse().join('.')}.in-addr.arpa.`)];
  const outRev: string[] = [soa(`${OUTBOUND_NET.split('.').reverse().join('.')}.in-addr.arpa.`)];
  for (let o = 1; o < 255; o++) {
    lines.push(`mx${o}.relay A ${INBOUND_NET}.${o}`, `ws${o}.${ours} A ${OUTBOUND_NET}.${o}`);
    inRev.push(`${o} PTR mx${o}.relay.example.`);
    outRev.push(`${o} PTR ws${o}.${OUR_DOMAIN}.`);
  }
  return new Map([
    ['example.', lines.join('\n') + '\n'],
    [`${INBOUND_NET.split('.').reverse().join('.')}.in-addr.arpa.`, inRev.join('\n') + '\n'],
    [`${OUTBOUND_NET.split('.').reverse().join('.')}.in-addr.arpa.`, outRev.join('\n') + '\n'],
  ]);
}

export interface BenchDns {
  /** The address Knot answers on, port 53. */
  readonly address: string;
  readonly port: number;
  readonly process: ChildProcess;
  /** Queries Knot has answered so far (mod-stats), read with knotc: the runner takes differences per cell. */
  queries(): number;
  stop(): Promise<void>;
}

async function udpFree(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    s.once('error', () => resolve(false));
    s.bind(port, address, () => s.close(() => resolve(true)));
  });
}

/** One DNS query for `name` TXT over UDP; resolves true when an answer comes back. */
async function probe(address: string, port: number, name: string): Promise<boolean> {
  const labels = name.split('.').filter(Boolean);
  const q = Buffer.concat([
    Buffer.from([0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]),
    ...labels.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])),
    Buffer.from([0, 0, 16, 0, 1]),
  ]);
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    const timer = setTimeout(() => {
      s.close();
      resolve(false);
    }, 300);
    s.once('message', (msg) => {
      clearTimeout(timer);
      s.close();
      resolve((msg[3]! & 0x0f) === 0 && msg.readUInt16BE(6) > 0);
    });
    s.send(q, port, address);
  });
}

/** Writes the zones and a knot.conf under `dir` and starts knotd in the foreground on ADDRESS@53. */
export async function startBenchDns(dir: string, keys: readonly DomainKeys[], fixedAddress?: string): Promise<BenchDns> {
  let address = '';
  if (fixedAddress !== undefined) {
    if (!(await udpFree(fixedAddress, 53))) throw new Error(`bench dns: ${fixedAddress}:53 is taken`);
    address = fixedAddress;
  }
  for (let i = 0; i < 50 && !address; i++) {
    const candidate = `127.77.${1 + Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`;
    if (await udpFree(candidate, 53)) address = candidate;
  }
  if (!address) throw new Error('bench dns: no free 127.77.x.y:53');
  mkdirSync(join(dir, 'zones'), { recursive: true });
  const zones = benchZones(keys, address);
  const zoneConf: string[] = [];
  for (const [name, text] of zones) {
    const file = join(dir, 'zones', `${name}zone`);
    writeFileSync(file, text);
    zoneConf.push(`  - domain: ${name}\n    file: ${file}`);
  }
  const conf = [
    'server:',
    `  rundir: ${dir}`,
    `  listen: ${address}@53`,
    '  udp-workers: 1',
    '  tcp-workers: 1',
    '  background-workers: 1',
    'control:',
    `  listen: ${join(dir, 'knot.sock')}`,
    // Counts every query; the runner reads it around each cell (DNS queries per 1,000 messages).
    'mod-stats:',
    '  - id: bench',
    '    request-protocol: on',
    'log:',
    '  - target: stderr',
    '    any: warning',
    'database:',
    `  storage: ${join(dir, 'db')}`,
    'template:',
    '  - id: default',
    `    storage: ${join(dir, 'zones')}`,
    '    zonefile-sync: -1',
    '    zonefile-load: whole',
    '    journal-content: none',
    '    global-module: mod-stats/bench',
    'zone:',
    ...zoneConf,
    '',
  ].join('\n');
  const confPath = join(dir, 'knot.conf');
  writeFileSync(confPath, conf);
  const child = spawn('/usr/sbin/knotd', ['-c', confPath], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`knotd exited: ${stderr}`);
    if (await probe(address, 53, `_dmarc.${SENDER_DOMAINS[0]}`)) break;
    await delay(50);
    if (i === 99) throw new Error(`knotd did not answer: ${stderr}`);
  }
  return {
    address,
    port: 53,
    process: child,
    queries() {
      const out = execFileSync('knotc', ['-s', join(dir, 'knot.sock'), 'stats', 'mod-stats.request-protocol'], { encoding: 'utf8' });
      // "mod-stats.request-protocol[udp4] = 123" per transport; none before the first query
      return [...out.matchAll(/= (\d+)/g)].reduce((sum, m) => sum + Number(m[1]), 0);
    },
    async stop() {
      if (child.exitCode !== null) return;
      const done = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await done;
    },
  };
}
