/**
 * A real Knot DNS (Debian knot 3.2) on 127.0.0.1:freePort for tests: private config,
 * rundir and storage in a temp dir, zones given as zone text, optional DNSSEC
 * auto-signing, TSIG keys allowed to send RFC 2136 updates, and helpers to change records
 * out of band (`knotc zone-begin/zone-set/zone-unset/zone-commit`).
 *
 * Two authoritative servers where the second lags: call `startKnot` twice with the same
 * zone and change only one of them (`setRecords` on the first).
 *
 * knotd runs in the foreground as our child (`knotd -c FILE`), so `stop()` really stops it.
 * See test/support/README.md (DNS section) for the API.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, delimiter } from 'node:path';
import { randomBytes } from 'node:crypto';
import { continueProcess, stopProcess } from './job-control.ts';
import { freePort } from './ports.ts';

export type TsigAlgorithm = 'hmac-sha256' | 'hmac-sha512';

export interface TestTsigKey {
  /** Key name without trailing dot, e.g. `mailanchor-test`. */
  readonly name: string;
  readonly algorithm: TsigAlgorithm;
  /** Base64 secret. */
  readonly secret: string;
  /** `name:algorithm:secret`, the form `parseTsigKey` (src/dns/tsig.ts) reads. */
  readonly spec: string;
}

export interface KnotZoneSpec {
  /** Zone apex, e.g. `example.test` (no trailing dot needed). */
  readonly name: string;
  /**
   * Zone text (RFC 1035 master file). `$ORIGIN` is the zone; without an SOA line a default
   * SOA (`ns1.<zone>. hostmaster.<zone>. 1 3600 600 86400 <negativeTtl>`, TTL 300) and an
   * NS `ns1.<zone>.` with A 127.0.0.1 are added. Default: just those.
   */
  readonly records?: string;
  /** Default TTL (`$TTL`) for the zone text. Default 300. */
  readonly ttl?: number;
  /** SOA MINIMUM = negative-caching TTL (RFC 2308). Default 60. */
  readonly negativeTtl?: number;
  /** Sign with Knot's automatic DNSSEC (ECDSA P-256, single-type signing off: KSK+ZSK). Default false. */
  readonly dnssec?: boolean;
  /** Accept RFC 2136 updates signed with any of the server's TSIG keys. Default true. */
  readonly allowUpdate?: boolean;
}

export interface KnotOptions {
  readonly zones: readonly KnotZoneSpec[];
  /** TSIG keys accepted for updates. Default: one fresh random hmac-sha256 key. */
  readonly tsigKeys?: readonly { name: string; algorithm: TsigAlgorithm; secret?: string }[];
  /** Port; default `freePort()`. */
  readonly port?: number;
  /**
   * Loopback address to listen on; default 127.0.0.1. Another 127.x.y.z with port 53 serves
   * programs that cannot be given a port (libunbound forwarders, resolv.conf).
   */
  readonly host?: string;
  /** Also listen on [::1] at the same port (see `serverV6`). Default false. */
  readonly ipv6?: boolean;
}

/** One record for `setRecords`/`removeRecords`; `name` relative to the zone, `@`, or absolute within it. */
export interface KnotRecord {
  readonly name: string;
  readonly type: string;
  /** Presentation-format RDATA, e.g. `"v=DKIM1; k=rsa; p=..."` or `3 1 1 ab12…`. Omit in removeRecords to drop the whole RRset. */
  readonly data?: string;
  /** Default 300 (ignored by removeRecords). */
  readonly ttl?: number;
}

export interface KnotServer {
  readonly host: string;
  readonly port: number;
  /** `{ host, port }`, ready for `queryServer`/`createResolver`. */
  readonly server: { readonly host: string; readonly port: number };
  /** `HOST:PORT`. */
  readonly address: string;
  /** `{ host: '::1', port }` when started with `ipv6: true`. */
  readonly serverV6?: { readonly host: string; readonly port: number };
  readonly dir: string;
  readonly tsigKeys: readonly TestTsigKey[];
  /** The first TSIG key (the default one). */
  readonly tsig: TestTsigKey;
  /** Add records in one knotc transaction (the zone is re-signed when DNSSEC is on). */
  setRecords(zone: string, records: readonly KnotRecord[]): Promise<void>;
  /** Remove specific records (with data) or whole RRsets (without data) in one transaction. */
  removeRecords(zone: string, records: readonly KnotRecord[]): Promise<void>;
  /** Rewrite the zone file (same rules as `KnotZoneSpec.records`) and `zone-reload` it. */
  replaceZone(zone: string, records: string): Promise<void>;
  /** `knotc zone-reload [zone]`. */
  reload(zone?: string): Promise<void>;
  /** Runs `knotc -c CONF -s SOCKET …args` and returns its stdout. */
  knotc(...args: string[]): Promise<string>;
  /** The argv that makes knotd re-read ZONE's file (touch + `knotc zone-reload`), for a publisher's reload command. */
  reloadCommand(zone: string): string[];
  /** DNSKEY lines (`zone. DNSKEY 257 3 13 …`) of the zone's KSK, from `keymgr`. */
  dnskeys(zone: string): Promise<string[]>;
  /** DS lines (`zone. DS tag 13 2 hex`), from `keymgr` — a trust anchor for Unbound. */
  ds(zone: string): Promise<string[]>;
  /**
   * The zone as served (signed, with RRSIG/NSEC/DNSKEY when DNSSEC is on), one record per
   * line in master-file form (`knotc zone-read`). Feed it to another `startKnot` zone
   * (`records`, signing off) to serve a copy — or a tampered copy (bogus signatures).
   */
  zoneRecords(zone: string): Promise<string>;
  /**
   * SIGSTOP knotd: it keeps its sockets but answers nothing (timeouts). Resolves once every
   * knotd thread is stopped (test/support/job-control.ts: a stop signal takes effect late on
   * a loaded machine, and knotd answers from its other threads until then) — await it.
   */
  freeze(): Promise<void>;
  /** SIGCONT after `freeze()`; resolves once knotd runs again. */
  thaw(): Promise<void>;
  /** What knotd wrote to stderr so far (for t.log on failure). */
  logs(): string;
  /** Stops knotd (SIGTERM, then SIGKILL after 3 s) and removes the temp dir. Idempotent. */
  stop(): Promise<void>;
}

const SEARCH_DIRS = ['/usr/sbin', '/sbin', '/usr/bin', '/bin'];

function findBinary(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), ...SEARCH_DIRS];
  for (const d of dirs) {
    if (d && existsSync(join(d, name))) return join(d, name);
  }
  return undefined;
}

/** Why Knot cannot run here (a missing binary), or undefined when it can. */
export function knotMissing(): string | undefined {
  for (const b of ['knotd', 'knotc', 'keymgr']) if (!findBinary(b)) return `${b} not installed (Debian package knot)`;
  return undefined;
}

function fqdn(name: string): string {
  return `${name.toLowerCase().replace(/\.$/, '')}.`;
}

function ownerName(zone: string, name: string): string {
  const z = zone.toLowerCase().replace(/\.$/, '');
  const n = name.toLowerCase().replace(/\.$/, '');
  if (n === '@' || n === z) return `${z}.`;
  if (name.endsWith('.') || n.endsWith(`.${z}`)) return `${n}.`;
  return `${n}.${z}.`;
}

export function zoneText(spec: { name: string; records?: string | undefined; ttl?: number | undefined; negativeTtl?: number | undefined }): string {
  const z = fqdn(spec.name);
  const body = spec.records ?? '';
  const hasSoa = /\sSOA\s/i.test(` ${body} `);
  const head = [`$ORIGIN ${z}`, `$TTL ${spec.ttl ?? 300}`];
  if (!hasSoa) {
    head.push(`@ 300 IN SOA ns1.${z} hostmaster.${z} 1 3600 600 86400 ${spec.negativeTtl ?? 60}`);
    head.push(`@ 300 IN NS ns1.${z}`);
    head.push(`ns1.${z} 300 IN A 127.0.0.1`);
  }
  return `${head.join('\n')}\n${body}\n`;
}

function run(file: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: 15_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${file} ${args.join(' ')} failed: ${stderr || stdout || err.message}`));
      else resolve(stdout);
    });
  });
}

export async function startKnot(options: KnotOptions): Promise<KnotServer> {
  // freePort() cannot reserve the port: another test may take it before knotd binds.
  // knotd then exits at once ("cannot bind address"); try again on a fresh port.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startKnotOnce(options);
    } catch (err) {
      if (options.port !== undefined || attempt >= 4 || !/cannot bind address/.test(String(err))) throw err;
    }
  }
}

async function startKnotOnce(options: KnotOptions): Promise<KnotServer> {
  const missing = knotMissing();
  if (missing) throw new Error(missing);
  const knotd = findBinary('knotd')!;
  const knotcBin = findBinary('knotc')!;
  const keymgr = findBinary('keymgr')!;
  const port = options.port ?? (await freePort());
  const host = options.host ?? '127.0.0.1';
  // The control socket path must stay under ~100 bytes (sun_path), so the dir is short.
  const base = tmpdir().length > 60 ? '/tmp' : tmpdir();
  const dir = await mkdtemp(join(base, 'knot-'));
  const sock = join(dir, 'k.sock');
  const conf = join(dir, 'knot.conf');

  const keys: TestTsigKey[] = (options.tsigKeys ?? [{ name: 'mailanchor-test', algorithm: 'hmac-sha256' as const }]).map((k) => {
    const secret = k.secret ?? randomBytes(k.algorithm === 'hmac-sha512' ? 64 : 32).toString('base64');
    const name = k.name.replace(/\.$/, '');
    return { name, algorithm: k.algorithm, secret, spec: `${name}:${k.algorithm}:${secret}` };
  });

  const lines: string[] = [
    'server:',
    `    rundir: "${dir}"`,
    `    listen: [ ${host}@${port}${options.ipv6 ? `, ::1@${port}` : ''} ]`,
    ...(process.getuid?.() === 0 ? ['    user: root:root'] : []),
    'log:',
    '  - target: stderr',
    '    any: info',
    'database:',
    `    storage: "${dir}"`,
    'control:',
    `    listen: "${sock}"`,
  ];
  if (keys.length > 0) {
    lines.push('key:');
    for (const k of keys) lines.push(`  - id: ${k.name}.`, `    algorithm: ${k.algorithm}`, `    secret: ${k.secret}`);
    lines.push('acl:', '  - id: update_acl', `    key: [${keys.map((k) => `${k.name}.`).join(', ')}]`, '    action: update');
  }
  lines.push(
    'policy:',
    '  - id: test',
    '    algorithm: ecdsap256sha256',
    // Manual-free automatic keys that never roll during a test; signatures long-lived.
    '    ksk-lifetime: 0',
    '    zsk-lifetime: 0',
    '    rrsig-lifetime: 14d',
    '    rrsig-refresh: 7d',
    'template:',
    '  - id: default',
    `    storage: "${dir}"`,
    '    file: "%s.zone"',
    // Never write the (signed) zone back over our zone text; the journal keeps changes.
    '    zonefile-sync: -1',
    '    zonefile-load: difference-no-serial',
    '    journal-content: all',
    'zone:',
  );
  for (const z of options.zones) {
    lines.push(`  - domain: ${fqdn(z.name)}`);
    if (z.dnssec) lines.push('    dnssec-signing: on', '    dnssec-policy: test');
    if ((z.allowUpdate ?? true) && keys.length > 0) lines.push('    acl: update_acl');
  }
  await writeFile(conf, `${lines.join('\n')}\n`);
  for (const z of options.zones) await writeFile(join(dir, `${fqdn(z.name)}zone`), zoneText(z));

  const child: ChildProcess = spawn(knotd, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => {
    stderr += d;
    if (stderr.length > 1_000_000) stderr = stderr.slice(-500_000);
  });
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve())));

  const knotc = (...args: string[]) => run(knotcBin, ['-c', conf, '-s', sock, ...args]);
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (!exited) {
      child.kill('SIGCONT');
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exit;
      clearTimeout(killer);
    }
    await rm(dir, { recursive: true, force: true });
  };

  // Ready when every zone has loaded (after signing, for signed zones) and control answers.
  const deadline = Date.now() + 20_000;
  const zonesLoaded = () => options.zones.every((z) => new RegExp(`\\[${fqdn(z.name).replace(/\./g, '\\.')}\\] loaded`).test(stderr));
  while (!(zonesLoaded() && /control, binding/.test(stderr))) {
    if (exited || Date.now() > deadline) {
      await stop();
      throw new Error(`knotd did not start (port ${port}):\n${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }

  // knotc transactions on one zone must not interleave.
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = queue.then(fn, fn);
    queue = next.catch(() => undefined);
    return next;
  };
  const transaction = (zone: string, edits: string[][]) =>
    serial(async () => {
      await knotc('zone-begin', fqdn(zone));
      try {
        for (const e of edits) await knotc(...e);
        await knotc('zone-commit', fqdn(zone));
      } catch (err) {
        await knotc('zone-abort', fqdn(zone)).catch(() => undefined);
        throw err;
      }
    });

  return {
    host,
    port,
    server: { host, port },
    address: `${host}:${port}`,
    ...(options.ipv6 ? { serverV6: { host: '::1', port } } : {}),
    dir,
    tsigKeys: keys,
    tsig: keys[0]!,
    setRecords: (zone, records) =>
      transaction(
        zone,
        records.map((r) => {
          if (r.data === undefined) throw new Error(`setRecords: ${r.name} ${r.type} needs data`);
          return ['zone-set', fqdn(zone), ownerName(zone, r.name), String(r.ttl ?? 300), r.type.toUpperCase(), r.data];
        }),
      ),
    removeRecords: (zone, records) =>
      transaction(
        zone,
        records.map((r) => ['zone-unset', fqdn(zone), ownerName(zone, r.name), r.type.toUpperCase(), ...(r.data === undefined ? [] : [r.data])]),
      ),
    replaceZone: async (zone, records) => {
      const spec = options.zones.find((z) => fqdn(z.name) === fqdn(zone));
      await writeFile(join(dir, `${fqdn(zone)}zone`), zoneText({ ...spec, name: zone, records }));
      await serial(() => knotc('zone-reload', fqdn(zone)));
    },
    reload: async (zone) => {
      await serial(() => (zone === undefined ? knotc('zone-reload') : knotc('zone-reload', fqdn(zone))));
    },
    knotc,
    // Knot reloads only when the zone file's own mtime changed, not an $INCLUDEd fragment's: touch it first.
    reloadCommand: (zone) => ['/bin/sh', '-c', 'touch "$1" && exec "$2" -c "$3" -s "$4" zone-reload "$5"', 'reload', join(dir, `${fqdn(zone)}zone`), knotcBin, conf, sock, fqdn(zone)],
    dnskeys: async (zone) => (await run(keymgr, ['-c', conf, fqdn(zone), 'dnskey'])).split('\n').filter((l) => l.includes('DNSKEY')),
    ds: async (zone) => (await run(keymgr, ['-c', conf, fqdn(zone), 'ds'])).split('\n').filter((l) => / DS /.test(l)),
    zoneRecords: async (zone) =>
      (await serial(() => knotc('zone-read', fqdn(zone))))
        .split('\n')
        .map((l) => l.replace(/^\[[^\]]*\]\s*/, ''))
        .filter((l) => l.trim() !== '')
        .join('\n'),
    freeze: () => stopProcess(child.pid!),
    thaw: () => continueProcess(child.pid!),
    logs: () => stderr,
    stop,
  };
}
