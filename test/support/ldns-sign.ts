/**
 * Zones signed by ldns (Debian ldnsutils) instead of Knot's automatic signing, for tests
 * that need control Knot does not give: a chosen algorithm, signatures that expired
 * (inception and expiration in the past), the same zone signed twice with the same serial
 * (one server serving stale signatures), a DS for a key the zone does not hold. Knot then
 * serves the signed text as is (`startKnot` zone without `dnssec: true`).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { zoneText } from './knot.ts';

export type LdnsAlgorithm = 'RSASHA256' | 'RSASHA512' | 'ECDSAP256SHA256' | 'ECDSAP384SHA384' | 'ED25519' | 'ED448';

/** Why ldns cannot run here, or undefined. */
export function ldnsMissing(): string | undefined {
  for (const b of ['ldns-keygen', 'ldns-signzone', 'ldns-key2ds', 'ldns-verify-zone']) if (!existsSync(`/usr/bin/${b}`)) return `${b} not installed (Debian package ldnsutils)`;
  return undefined;
}

export interface ZoneKeys {
  readonly zone: string;
  readonly algorithm: LdnsAlgorithm;
  /** Base names (without .key/.private) of the KSK and ZSK in `dir`. */
  readonly ksk: string;
  readonly zsk: string;
  readonly dir: string;
  /** `zone. IN DS tag alg 2 hex` of the KSK (SHA-256), for the parent zone or a trust anchor. */
  readonly ds: string;
  /** The KSK's DNSKEY line. */
  readonly dnskey: string;
  cleanup(): void;
}

const run = (cmd: string, args: string[], cwd: string): string => execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

export function makeZoneKeys(zone: string, algorithm: LdnsAlgorithm = 'ECDSAP256SHA256'): ZoneKeys {
  const z = zone.replace(/\.$/, '');
  const dir = mkdtempSync(join(tmpdir(), 'ldns-keys-'));
  const bits = algorithm.startsWith('RSA') ? ['-b', '2048'] : [];
  const ksk = run('ldns-keygen', ['-a', algorithm, ...bits, '-k', z], dir).trim();
  const zsk = run('ldns-keygen', ['-a', algorithm, ...bits, z], dir).trim();
  const ds = run('ldns-key2ds', ['-n', '-2', `${ksk}.key`], dir).trim();
  const dnskey = readFileSync(join(dir, `${ksk}.key`), 'utf8').split('\n').find((l) => /DNSKEY/.test(l))!.trim();
  return { zone: z, algorithm, ksk, zsk, dir, ds, dnskey, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** `YYYYMMDDHHMMSS` in UTC, the form ldns-signzone takes. */
const stamp = (d: Date): string => d.toISOString().replace(/[-:T]/g, '').slice(0, 14);

export interface SignOptions {
  readonly inception?: Date;
  readonly expiration?: Date;
  /** Master-file records of the zone (the same rules as `KnotZoneSpec.records`). */
  readonly records?: string;
  readonly ttl?: number;
  readonly negativeTtl?: number;
}

/** The zone text (default SOA/NS added as the Knot harness does), signed with `keys`: text for `startKnot`'s `records`. */
export function signZone(keys: ZoneKeys, options: SignOptions = {}): string {
  const unsigned = join(keys.dir, `${keys.zone}.zone`);
  writeFileSync(unsigned, zoneText({ name: keys.zone, records: options.records, ttl: options.ttl, negativeTtl: options.negativeTtl }));
  const inception = options.inception ?? new Date(Date.now() - 3600_000);
  const expiration = options.expiration ?? new Date(Date.now() + 30 * 86_400_000);
  run('ldns-signzone', ['-i', stamp(inception), '-e', stamp(expiration), '-o', keys.zone, '-f', `${unsigned}.signed`, unsigned, keys.ksk, keys.zsk], keys.dir);
  return readFileSync(`${unsigned}.signed`, 'utf8');
}

/** ldns-verify-zone's verdict on a signed zone text: exit 0 and its output. */
export function ldnsVerify(signed: string, dir: string): { ok: boolean; output: string } {
  const file = join(dir, `verify-${Date.now()}-${Math.random().toString(36).slice(2)}.zone`);
  writeFileSync(file, signed);
  try {
    return { ok: true, output: execFileSync('ldns-verify-zone', [file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }) };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    return { ok: false, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  } finally {
    rmSync(file, { force: true });
  }
}
