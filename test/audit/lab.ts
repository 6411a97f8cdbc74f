/**
 * A hoster's world on loopback for the audit tests — real servers, real delegation:
 *
 *   example.            Knot P (127.53.N.1:53), signed by Knot, the trust anchor for Unbound;
 *                       delegates hoster.example and every customer zone, with glue and DS
 *   hoster.example and  Knot A (127.53.N.2:53 and [::1]:53) and Knot B (127.53.N.3:53): the
 *   customer zones      two authoritative servers ns1/ns2.hoster.example, zones signed by ldns
 *                       (so one server can serve an expired or older copy with the same keys)
 *   reverse zones       on Knot P: PTR for the MX address and ::1
 *   Unbound             validating, iterating from the example. stub (port 53 everywhere, so it
 *                       follows the real referrals)
 *   SMTP (STARTTLS)     127.53.N.25:25 and [::1]:25, the MX; HTTPS 127.53.N.44:443 for MTA-STS
 *   faults              a server that never answers (127.53.N.71), one that answers garbage
 *                       (127.53.N.66); P refuses zones it does not serve
 *
 * Port 53/25/443 on a private 127.53.N.x (N random) is what lets the audit run exactly as in
 * production (no port overrides); it needs root, like the bench and the Postfix tests. Only
 * [::1] is shared: one lab at a time per machine binds [::1]:53/25 (retried when taken).
 *
 * Domains (each defect planted alone; the checks of the others must stay as for good.example):
 *   good.example, hosted.example (DKIM CNAMEd to the hoster)    healthy
 *   noptr6.example    MX mx-noptr6: its AAAA 2001:db8::25 has no PTR
 *   spf11.example     SPF needing 11 DNS lookups through includes
 *   dkim1024.example  the active DKIM key has 1024 bits
 *   rua.example       rua to elsewhere.example, which does not authorise it
 *   dsbad.example     the DS at the parent matches no DNSKEY
 *   expired.example   ns2 serves the zone with expired RRSIGs (same serial)
 *   lagging.example   ns2 serves an older serial
 *   tlsabad.example   MX mx-wrong: its TLSA does not match the certificate STARTTLS presents
 *   faults.example    NS also names a silent, a garbage-answering and a refusing server
 *   many.example      300 MX records, 300 TLSA records on one owner
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttps, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditDns, countingTransport } from '../../src/audit/dns-context.ts';
import { loadKnownCertificates } from '../../src/audit/gather/known-certificates.ts';
import { memoryHistory, type PolicyHistory } from '../../src/audit/policy-history.ts';
import type { AuditSettings } from '../../src/audit/runner.ts';
import { tlsaFor } from '../../src/dane/tlsa-compute.ts';
import { tlsaText } from '../../src/dane/tlsa-params.ts';
import { createResolver } from '../../src/dns/resolver.ts';
import { dkimRecordForKey, splitTxt } from '../../src/keys/dkim-record.ts';
import { domainDefaults, type KeysConfig } from '../../src/keys/config.ts';
import { generateKey } from '../../src/keys/generate.ts';
import { openSqliteStore } from '../../src/store/sqlite/store.ts';
import type { StoredKey } from '../../src/keys/key-store.ts';
import { X509Certificate } from 'node:crypto';
import { makePki, type TestPki } from '../dane/make-certs.ts';
import { startSmtp, type TestSmtp } from '../dane/smtp-server.ts';
import { knotMissing, startKnot, type KnotServer } from '../support/knot.ts';
import { ldnsMissing, makeZoneKeys, signZone, type ZoneKeys } from '../support/ldns-sign.ts';
import { startUnbound, unboundMissing, type UnboundServer } from '../support/unbound.ts';

export function labMissing(): string | undefined {
  if (process.getuid?.() !== 0) return 'the audit lab binds ports 53, 25 and 443 on private loopback addresses: needs root';
  return knotMissing() ?? unboundMissing() ?? ldnsMissing();
}

export const HEALTHY = ['good.example', 'hosted.example'] as const;
export const DEFECTS = ['noptr6.example', 'spf11.example', 'dkim1024.example', 'rua.example', 'dsbad.example', 'expired.example', 'lagging.example'] as const;
const FIXED = [...HEALTHY, ...DEFECTS, 'tlsabad.example', 'faults.example', 'many.example'] as const;

export interface LabOptions {
  /** Extra healthy customer zones `bulk-0001.example` … (the bench), DKIM with Ed25519 keys. */
  readonly bulk?: number;
}

/** The names of the bulk domains of a lab started with `bulk: n`. */
export const bulkDomains = (n: number): string[] => Array.from({ length: n }, (_, i) => `bulk-${String(i + 1).padStart(4, '0')}.example`);
const OTHER_ZONES = ['hoster.example', 'elsewhere.example'] as const;
const SERIAL = 2026120101;
const SELECTOR = 'ma1r';

export interface Lab {
  readonly base: string;
  readonly mxAddress: string;
  readonly unbound: UnboundServer;
  readonly dir: string;
  readonly storePath: string;
  readonly caFile: string;
  readonly mxChain: string;
  /** A fresh DNS context (own caches) against the lab's Unbound. */
  dns(): AuditDns & { readonly queries: () => number };
  settings(o?: Partial<AuditSettings>): Promise<AuditSettings>;
  keysConfig: KeysConfig;
  /** The MTA-STS policy body served from now on. */
  setPolicy(body: string): void;
  readonly policy: string;
  /** Knot B: freeze/thaw for the timeout test. */
  readonly b: KnotServer;
  /** A config file for the CLI with everything above. */
  configText(extra?: string): string;
  stop(): Promise<void>;
}

function dkimTxt(value: string): string {
  return splitTxt(value).map((s) => `"${s}"`).join(' ');
}

async function silentServer(host: string): Promise<UdpSocket> {
  const s = createSocket('udp4');
  s.on('message', () => {});
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.bind(53, host, () => resolve());
  });
  return s;
}

/** Replies with the query's id, QR set, and counts that promise records which are not there. */
async function garbageServer(host: string): Promise<UdpSocket> {
  const s = createSocket('udp4');
  s.on('message', (msg, rinfo) => {
    const reply = Buffer.concat([msg.subarray(0, 2), Buffer.from([0x84, 0x00, 0, 1, 0, 9, 0, 0, 0, 0]), Buffer.from('garbage, not DNS \x07\xff\xc0\x0c')]);
    s.send(reply, rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.bind(53, host, () => resolve());
  });
  return s;
}

function certFor(pki: TestPki, name: string, sans: readonly string[]): { cert: string; key: string } {
  const key = join(pki.dir, `${name}.key`);
  const csr = join(pki.dir, `${name}.csr`);
  const cert = join(pki.dir, `${name}.pem`);
  const ext = join(pki.dir, `${name}.ext`);
  execFileSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', key], { stdio: 'ignore' });
  execFileSync('openssl', ['req', '-new', '-key', key, '-out', csr, '-subj', `/CN=${sans[0]}`], { stdio: 'ignore' });
  writeFileSync(ext, `subjectAltName=${sans.map((s) => `DNS:${s}`).join(',')}\nextendedKeyUsage=serverAuth\n`);
  execFileSync('openssl', ['x509', '-req', '-in', csr, '-CA', pki.caCert, '-CAkey', pki.caKey, '-CAcreateserial', '-out', cert, '-extfile', ext, '-days', '30'], { stdio: 'ignore' });
  return { cert: readFileSync(cert, 'utf8'), key: readFileSync(key, 'utf8') };
}

export async function startLab(options: LabOptions = {}): Promise<Lab> {
  let last: unknown;
  for (let i = 0; i < 4; i++) {
    const n = 1 + Math.floor(Math.random() * 250);
    try {
      return await startLabOn(`127.53.${n}`, options);
    } catch (err) {
      last = err;
      if (!/EADDRINUSE|cannot bind|address already in use/i.test(String(err))) throw err;
    }
  }
  throw last;
}

async function startLabOn(base: string, options: LabOptions): Promise<Lab> {
  const CUSTOMERS: readonly string[] = [...FIXED, ...bulkDomains(options.bulk ?? 0)];
  const P = `${base}.1`;
  const A = `${base}.2`;
  const B = `${base}.3`;
  const MX = `${base}.25`;
  const WEB = `${base}.44`;
  const GARBAGE = `${base}.66`;
  const SILENT = `${base}.71`;
  const REFUSER = `${base}.67`;
  const dir = mkdtempSync(join(tmpdir(), 'mailanchor-audit-lab-'));
  const cleanups: (() => Promise<void> | void)[] = [() => rmSync(dir, { recursive: true, force: true })];
  const stop = async () => {
    for (const c of cleanups.reverse()) await c();
  };
  try {
    // Certificates: the MX's chain (pinned by TLSA and configured in dane.sites), another
    // CA's for the wrong TLSA, the MTA-STS web server's.
    const pki = makePki('ec');
    cleanups.push(() => pki.cleanup());
    const mx = pki.leaf('mx', 'mx.hoster.example', 'ec');
    const other = makePki('ec');
    cleanups.push(() => other.cleanup());
    const wrong = other.leaf('wrong', 'mx-wrong.hoster.example', 'ec');
    const x509 = (file: string) => new X509Certificate(readFileSync(file));
    const tlsaGood = [tlsaText(tlsaFor(x509(mx.cert), 3, 1, 1)), tlsaText(tlsaFor(x509(pki.caCert), 2, 1, 1))];
    const tlsaWrong = [tlsaText(tlsaFor(x509(wrong.cert), 3, 1, 1)), tlsaText(tlsaFor(x509(other.caCert), 2, 1, 1))];
    const web = certFor(pki, 'mta-sts', CUSTOMERS.map((d) => `mta-sts.${d}`));

    // DKIM keys in a real keystore.
    const storePath = join(dir, 'state', 'mailanchor.db');
    const store = openSqliteStore(storePath);
    await store.migrate();
    const dkim = new Map<string, string>();
    const now = Date.now();
    for (const d of CUSTOMERS) {
      const hosted = d === 'hosted.example';
      const selector = hosted ? 'ma-rsa-1' : SELECTOR;
      // Bulk domains get Ed25519 keys: an RSA key pair per domain would make a 200-domain bench start slowly.
      const algorithm = d.startsWith('bulk-') ? ('ed25519-sha256' as const) : ('rsa-sha256' as const);
      const k = generateKey(algorithm, d === 'dkim1024.example' ? 1024 : 2048);
      await store.keys.insert({ id: `${d}-${selector}`, domain: d, selector, algorithm, state: 'active', createdAt: now - 86_400_000, privateKeyPem: k.privateKeyPem, publicKeyPem: k.publicKeyPem });
      dkim.set(d, dkimRecordForKey(algorithm, k.publicKeyPem));
    }
    const storedKeys = new Map<string, StoredKey[]>();
    for (const k of await store.keys.list()) storedKeys.set(k.domain, [...(storedKeys.get(k.domain) ?? []), k]);
    await store.close();
    const keysConfig: KeysConfig = {
      domains: Object.fromEntries(
        CUSTOMERS.map((d) => [d, { ...domainDefaults(), algorithms: [d.startsWith('bulk-') ? ('ed25519-sha256' as const) : ('rsa-sha256' as const)], ...(d === 'hosted.example' ? { hosted: { target: 'dkim.hoster.example', selector_prefix: 'ma', customer_nameservers: [] } } : {}) }]),
      ),
    };

    // Zone texts.
    const apex = (extra: string[] = []) => ['@ 300 IN NS ns1.hoster.example.', '@ 300 IN NS ns2.hoster.example.', ...extra];
    const mailRecords = (d: string, mxHost: string, spf: string, dmarc: string): string[] => {
      return [
        `@ IN MX 10 ${mxHost}.`,
        `@ IN TXT "${spf}"`,
        `_dmarc IN TXT "${dmarc}"`,
        d === 'hosted.example' ? `ma-rsa-1._domainkey IN CNAME ma-rsa-1.hosted.example.dkim.hoster.example.` : `${SELECTOR}._domainkey IN TXT ${dkimTxt(dkim.get(d)!)}`,
        `_mta-sts IN TXT "v=STSv1; id=20261201T000000"`,
        `mta-sts IN A ${WEB}`,
        `_smtp._tls IN TXT "v=TLSRPTv1; rua=mailto:tlsrpt@${d}"`,
      ];
    };
    const soa = (serial: number) => `@ 300 IN SOA ns1.hoster.example. hostmaster.hoster.example. ${serial} 3600 600 86400 60`;
    const goodSpf = `v=spf1 ip4:${MX} ip6:::1 mx -all`;
    const dmarcOf = (d: string) => `v=DMARC1; p=reject; rua=mailto:dmarc@${d}`;
    const customer = (d: string): string[] => {
      const mxHost = d === 'noptr6.example' ? 'mx-noptr6.hoster.example' : d === 'tlsabad.example' ? 'mx-wrong.hoster.example' : 'mx.hoster.example';
      const spf = d === 'spf11.example' ? `v=spf1 ip4:${MX} include:s1.spf.hoster.example include:s2.spf.hoster.example -all` : goodSpf;
      const dmarc = d === 'good.example' ? `v=DMARC1; p=reject; rua=mailto:dmarc@good.example,mailto:reports@elsewhere.example` : d === 'rua.example' ? 'v=DMARC1; p=reject; rua=mailto:reports@elsewhere.example' : dmarcOf(d);
      const lines = [...apex(), ...mailRecords(d, mxHost, spf, dmarc)];
      if (d === 'faults.example') lines.push('@ 300 IN NS ns-silent.hoster.example.', '@ 300 IN NS ns-garbage.hoster.example.', '@ 300 IN NS ns-refuse.hoster.example.');
      if (d === 'many.example') {
        lines.splice(lines.findIndex((l) => / MX /.test(l)), 1);
        lines.push('@ IN MX 0 mx-many.hoster.example.');
        for (let i = 1; i <= 300; i++) lines.push(`@ IN MX ${i} m${i}.many.example.`, `m${i} IN A ${MX}`, `m${i} IN AAAA ::1`);
      }
      return lines;
    };
    const hoster = [
      ...apex(),
      `ns1 IN A ${A}`,
      'ns1 IN AAAA ::1',
      `ns2 IN A ${B}`,
      'ns2 IN AAAA ::1',
      `ns-silent IN A ${SILENT}`,
      `ns-garbage IN A ${GARBAGE}`,
      `ns-refuse IN A ${REFUSER}`,
      `mx IN A ${MX}`,
      'mx IN AAAA ::1',
      `mx-noptr6 IN A ${MX}`,
      'mx-noptr6 IN AAAA 2001:db8::25',
      `mx-wrong IN A ${MX}`,
      'mx-wrong IN AAAA ::1',
      ...tlsaGood.map((t) => `_25._tcp.mx IN TLSA ${t}`),
      ...tlsaGood.map((t) => `_25._tcp.mx-noptr6 IN TLSA ${t}`),
      ...tlsaWrong.map((t) => `_25._tcp.mx-wrong IN TLSA ${t}`),
      // 300 TLSA records at one owner (many.example's MX hosts are in its own zone; this is the hoster's spare host).
      ...Array.from({ length: 300 }, (_, i) => `_25._tcp.mx-many IN TLSA 3 1 1 ${i.toString(16).padStart(64, '0')}`),
      `mx-many IN A ${MX}`,
      'mx-many IN AAAA ::1',
      // 4 + 5 lookups, plus the 2 includes: 11 (RFC 7208 §4.6.4 allows 10).
      `s1.spf IN TXT "v=spf1 a:mx.hoster.example a:mx-wrong.hoster.example mx:good.example mx:hosted.example -all"`,
      `s2.spf IN TXT "v=spf1 a:ns1.hoster.example a:ns2.hoster.example mx:tlsabad.example a:mx-noptr6.hoster.example exists:mx.hoster.example -all"`,
      `ma-rsa-1.hosted.example.dkim IN TXT ${dkimTxt(dkim.get('hosted.example')!)}`,
    ];
    const elsewhere = [...apex(), '@ IN MX 0 .', 'good.example._report._dmarc IN TXT "v=DMARC1"'];
    const texts = new Map<string, string[]>([
      ['hoster.example', hoster],
      ['elsewhere.example', elsewhere],
      ...CUSTOMERS.map((d) => [d, customer(d)] as [string, string[]]),
    ]);

    // Sign every zone with its own keys (ldns), once per copy.
    const keys = new Map<string, ZoneKeys>();
    const signedA = new Map<string, string>();
    const signedB = new Map<string, string>();
    const DAY = 86_400_000;
    for (const [zone, lines] of texts) {
      const k = makeZoneKeys(zone, 'ECDSAP256SHA256');
      keys.set(zone, k);
      cleanups.push(() => k.cleanup());
      const serialA = zone === 'lagging.example' ? SERIAL + 1 : SERIAL;
      const recordsA = [soa(serialA), ...lines].join('\n');
      const a = signZone(k, { records: recordsA });
      signedA.set(zone, a);
      if (zone === 'expired.example') signedB.set(zone, signZone(k, { records: recordsA, inception: new Date(Date.now() - 60 * DAY), expiration: new Date(Date.now() - 30 * DAY) }));
      else if (zone === 'lagging.example') signedB.set(zone, signZone(k, { records: [soa(SERIAL), ...lines].join('\n') }));
      else signedB.set(zone, a);
    }
    const strayKey = makeZoneKeys('dsbad.example', 'ECDSAP256SHA256');
    cleanups.push(() => strayKey.cleanup());

    const parentLines = [
      '@ 300 IN SOA ns.example. hostmaster.example. 1 3600 600 86400 60',
      '@ 300 IN NS ns.example.',
      `ns IN A ${P}`,
      `ns1.hoster IN A ${A}`,
      'ns1.hoster IN AAAA ::1',
      `ns2.hoster IN A ${B}`,
      'ns2.hoster IN AAAA ::1',
    ];
    for (const zone of texts.keys()) {
      const label = zone.replace(/\.example$/, '');
      parentLines.push(`${label} IN NS ns1.hoster.example.`, `${label} IN NS ns2.hoster.example.`);
      if (zone === 'faults.example') parentLines.push(`${label} IN NS ns-silent.hoster.example.`, `${label} IN NS ns-garbage.hoster.example.`, `${label} IN NS ns-refuse.hoster.example.`);
      const ds = zone === 'dsbad.example' ? strayKey.ds : keys.get(zone)!.ds;
      parentLines.push(`${label} IN DS ${ds.split(/\s+DS\s+/)[1]}`);
    }
    const v4Zone = `${base.split('.').reverse().join('.')}.in-addr.arpa`;
    const v6Loopback = `${'1.'}${'0.'.repeat(31)}ip6.arpa`;
    const docV6 = '8.b.d.0.1.0.0.2.ip6.arpa';

    const parent = await startKnot({
      host: P,
      port: 53,
      zones: [
        { name: 'example', records: parentLines.join('\n'), dnssec: true },
        { name: v4Zone, records: `@ 300 IN SOA ns.example. hostmaster.example. 1 3600 600 86400 60\n@ 300 IN NS ns.example.\n25 IN PTR mx.hoster.example.` },
        { name: v6Loopback, records: `@ 300 IN SOA ns.example. hostmaster.example. 1 3600 600 86400 60\n@ 300 IN NS ns.example.\n@ IN PTR mx.hoster.example.` },
        { name: docV6, records: `@ 300 IN SOA ns.example. hostmaster.example. 1 3600 600 86400 60\n@ 300 IN NS ns.example.` },
      ],
    });
    cleanups.push(() => parent.stop());
    const zonesOf = (m: Map<string, string>) => [...m.entries()].map(([name, records]) => ({ name, records }));
    const a = await startKnot({ host: A, port: 53, ipv6: true, zones: zonesOf(signedA) });
    cleanups.push(() => a.stop());
    const b = await startKnot({ host: B, port: 53, zones: zonesOf(signedB) });
    cleanups.push(() => b.stop());
    // Serves another zone only: REFUSED for faults.example (a server listed for a zone it does not carry).
    const refuser = await startKnot({ host: REFUSER, port: 53, zones: [{ name: 'unrelated.invalid' }] });
    cleanups.push(() => refuser.stop());
    const silent = await silentServer(SILENT);
    cleanups.push(() => new Promise<void>((r) => silent.close(() => r())));
    const garbage = await garbageServer(GARBAGE);
    cleanups.push(() => new Promise<void>((r) => garbage.close(() => r())));

    const unbound = await startUnbound({
      stubs: [
        { zone: 'example', servers: [parent.server], trustAnchors: await parent.ds('example') },
        // Deterministic: Unbound's own answers for expired.example come from the good copy.
        { zone: 'expired.example', servers: [a.server] },
        { zone: v4Zone, servers: [parent.server] },
        { zone: v6Loopback, servers: [parent.server] },
        { zone: docV6, servers: [parent.server] },
      ],
    });
    cleanups.push(() => unbound.stop());

    const smtp: TestSmtp = await startSmtp([{ key: readFileSync(mx.key, 'utf8'), cert: readFileSync(mx.chain, 'utf8') }], [
      { host: MX, port: 25 },
      { host: '::1', port: 25 },
    ]);
    cleanups.push(() => smtp.close());

    let policy = 'version: STSv1\nmode: enforce\nmx: *.hoster.example\nmx: *.many.example\nmax_age: 604800\n';
    const https: Server = createHttps({ key: web.key, cert: `${web.cert}${readFileSync(pki.caCert, 'utf8')}` }, (req, res) => {
      if (req.url !== '/.well-known/mta-sts.txt') return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end(policy);
    });
    await new Promise<void>((resolve, reject) => {
      https.once('error', reject);
      https.listen(443, WEB, () => resolve());
    });
    cleanups.push(() => new Promise<void>((r) => (https.closeAllConnections(), https.close(() => r()))));

    const caFile = join(dir, 'ca.pem');
    writeFileSync(caFile, readFileSync(pki.caCert));
    const dane = [{ host: 'mx.hoster.example', port: 25, proto: 'tcp' as const, zone: 'hoster.example', cert_files: [mx.chain], next_files: [], records: 'smtp' as const, authoritative: [], ttl: 3_600_000 }];

    const lab: Lab = {
      base,
      mxAddress: MX,
      unbound,
      dir,
      storePath,
      caFile,
      mxChain: mx.chain,
      b,
      keysConfig,
      get policy() {
        return policy;
      },
      setPolicy: (body) => void (policy = body),
      dns() {
        const transport = countingTransport();
        const common = { servers: [unbound.server], transport, timeoutMs: 2000, attempts: 2, maxEntries: 10_000 };
        const d = new AuditDns({ lookup: createResolver({ ...common, checkingDisabled: true }), validating: createResolver(common), resolvers: [unbound.server], transport, timeoutMs: 1000, resolverTimeoutMs: 2000 });
        return Object.assign(d, { queries: () => transport.total() });
      },
      async settings(o: Partial<AuditSettings> = {}): Promise<AuditSettings> {
        return {
          sendingAddresses: [MX],
          selectors: [],
          keysConfig,
          keys: (d) => storedKeys.get(d) ?? [],
          known: await loadKnownCertificates(dane, Date.now()),
          connect: false,
          maxMxHosts: 10,
          spfLimits: { lookups: 10, voidLookups: 2 },
          expiryWarningMs: 3 * 86_400_000,
          domainTimeoutMs: 30_000,
          connectTimeoutMs: 5000,
          extraCa: [readFileSync(caFile, 'utf8')],
          history: memoryHistory() as PolicyHistory,
          now: Date.now,
          ...o,
        };
      },
      configText(extra = '') {
        const domains = Object.entries(keysConfig.domains)
          .map(([d, c]) => `    ${d}:\n      algorithms: [${c.algorithms.join(', ')}]\n${c.hosted ? `      hosted:\n        target: ${c.hosted.target}\n` : ''}`)
          .join('');
        return [
          `dns:\n  servers: ["${unbound.address}"]\n  timeout: 2s`,
          `store:\n  path: ${storePath}`,
          `keys:\n  domains:\n${domains}`,
          `dane:\n  state_dir: ${join(dir, 'dane')}\n  sites:\n    - host: mx.hoster.example\n      zone: hoster.example\n      cert_files: [${mx.chain}]`,
          `audit:\n  sending_addresses: ["${MX}"]\n  query_timeout: 1s\n  domain_timeout: 30s\n  ca_file: ${caFile}\n  state_dir: ${join(dir, 'audit-state')}`,
          extra,
        ].join('\n');
      },
      stop,
    };
    return lab;
  } catch (err) {
    await stop();
    throw err;
  }
}
