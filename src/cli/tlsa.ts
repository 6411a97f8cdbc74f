/**
 * `mailanchor tlsa …` — DANE TLSA records (RFC 6698, 7671, 7672).
 *
 *   tlsa [--host H] [--port 25] [--proto tcp] [--usage U --selector S --matching M]
 *        [--format zone|generic|json] [--ttl S] [--key FILE] [--no-lint] FILES…
 *   tlsa rollover --host H CURRENT… --next FILE… [--zone Z] [--auth HOST[:PORT]…] [--ttl S] [--state FILE]
 *   tlsa --deploy-check CERT [--host H] [--zone Z] [--auth …] [--ttl S] [--state FILE]
 *   tlsa check HOST [--port 25] [--connect ADDR] [--dns SERVER] [--starttls smtp|none] [--json]
 *   tlsa sidecar [--once]
 *
 * Exit codes: compute 0 / 1 (bad input); check 0 ok, 1 mismatch, 2 not validated or
 * unreachable; deploy-check 0 safe, 1 not safe, 2 could not tell; 64 usage errors.
 */
import { parseArgs } from 'node:util';
import { createPublicKey, createPrivateKey, type X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { CliCommand, CliIo } from './io.ts';
import { loadConfig } from '../config/load.ts';
import { createLogger } from '../log/logger.ts';
import type { Config } from '../config/sections.ts';
import { parseDnsServer, resolverOptions } from '../dns/config.ts';
import { createResolver } from '../dns/resolver.ts';
import { loadTsigKey } from '../dns/tsig.ts';
import type { DnsServer } from '../dns/types.ts';
import { MailanchorError, describeError } from '../errors.ts';
import { certName, checkKeyMatches, oneLine, readTlsaSource, type CertChain } from '../dane/cert-input.ts';
import { CHECK_EXIT, checkDane } from '../dane/check.ts';
import { siteZone, type DaneSiteConfig } from '../dane/config.ts';
import { DaneError } from '../dane/errors.ts';
import { lintRecords } from '../dane/lint.ts';
import { observeTlsa } from '../dane/observe.ts';
import { hookPublisher, manualPublisher, rfc2136Publisher, zoneFilePublisher, type TlsaPublisher } from '../dane/publisher.ts';
import { deployVerdict, observe, planRollover } from '../dane/rollover.ts';
import { loadRolloverState, saveRolloverState, stateFileFor } from '../dane/rollover-state.ts';
import { runSidecar, syncSite } from '../dane/sidecar.ts';
import { computeRecords, recordsFor, type ComputedTlsa, type TlsaWarning } from '../dane/tlsa-compute.ts';
import { formatRecords, TLSA_FORMATS, type TlsaFormat } from '../dane/tlsa-format.ts';
import { tlsaOwner, tlsaText, type Tlsa, type TlsaProto } from '../dane/tlsa-params.ts';

const USAGE = `usage:
  mailanchor tlsa [--host H] [--port 25] [--proto tcp] [--usage U] [--selector S] [--matching M]
                  [--format zone|generic|json] [--ttl SEC] [--key FILE] [--no-lint] FILES…
  mailanchor tlsa rollover --host H CURRENT… --next FILE… [--zone Z] [--auth HOST[:PORT]]… [--ttl SEC] [--state FILE]
  mailanchor tlsa --deploy-check CERT [--host H] [--zone Z] [--auth HOST[:PORT]]… [--ttl SEC] [--state FILE]
  mailanchor tlsa check HOST [--port 25] [--connect ADDR] [--dns SERVER] [--starttls smtp|none] [--json]
  mailanchor tlsa sidecar [--once]
Every form takes --config FILE; --now ISO-TIME evaluates at another time (what-if, tests).
`;

const COMMON = {
  config: { type: 'string' },
  host: { type: 'string' },
  port: { type: 'string' },
  proto: { type: 'string' },
  now: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

class UsageError extends Error {}

function num(v: string | undefined, name: string, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name} must be a whole number ${min}–${max}, got ${JSON.stringify(v)}`);
  return n;
}

function nowOf(v: string | undefined): number {
  if (v === undefined) return Date.now();
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new UsageError(`--now: not a time: ${v}`);
  return t;
}

function protoOf(v: string | undefined): TlsaProto {
  if (v === undefined || v === 'tcp' || v === 'udp' || v === 'sctp') return v ?? 'tcp';
  throw new UsageError(`--proto must be tcp, udp or sctp, got ${v}`);
}

export const run: CliCommand = async (argv, io) => {
  try {
    const [first, ...rest] = argv;
    if (first === 'check') return await runCheck(rest, io);
    if (first === 'rollover') return await runRollover(rest, io);
    if (first === 'sidecar') return await runSidecarCommand(rest, io);
    if (argv.includes('--deploy-check')) return await runDeployCheck(argv, io);
    return await runCompute(argv, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`mailanchor tlsa: ${err.message}\n\n${USAGE}`);
      return 64;
    }
    if (err instanceof MailanchorError) {
      io.stderr.write(`mailanchor tlsa: ${err.message}\n`);
      return err instanceof DaneError ? 1 : 2;
    }
    if ((err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.stderr.write(`mailanchor tlsa: ${(err as Error).message}\n\n${USAGE}`);
      return 64;
    }
    throw err;
  }
};

async function runCompute(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: { ...COMMON, usage: { type: 'string' }, selector: { type: 'string' }, matching: { type: 'string' }, format: { type: 'string' }, ttl: { type: 'string' }, key: { type: 'string' }, 'no-lint': { type: 'boolean' } },
  });
  if (values.help) {
    io.stdout.write(USAGE);
    return 0;
  }
  if (positionals.length === 0) throw new UsageError('give at least one PEM certificate chain or key file');
  const fmt = (values.format ?? 'zone') as TlsaFormat;
  if (!(TLSA_FORMATS as readonly string[]).includes(fmt)) throw new UsageError(`--format must be one of ${TLSA_FORMATS.join(', ')}`);
  const port = num(values.port, 'port', 1, 65535) ?? 25;
  const proto = protoOf(values.proto);
  const usage = num(values.usage, 'usage', 0, 3);
  const selector = num(values.selector, 'selector', 0, 1);
  const matchingType = num(values.matching, 'matching', 0, 2);
  const ttl = num(values.ttl, 'ttl', 0, 2 ** 31 - 1);
  const now = nowOf(values.now);
  const records: ComputedTlsa[] = [];
  const warnings: TlsaWarning[] = [];
  const chains: CertChain[] = [];
  for (const file of positionals) {
    const src = await readTlsaSource(file, { now });
    if (src.kind === 'chain') chains.push(src);
    const computed = computeRecords(src, { ...(usage === undefined ? {} : { usage }), ...(selector === undefined ? {} : { selector }), ...(matchingType === undefined ? {} : { matchingType }) });
    records.push(...computed.records);
    warnings.push(...computed.warnings);
  }
  if (values.key) {
    if (chains.length !== 1) throw new UsageError('--key needs exactly one certificate file');
    const text = await readFile(values.key, 'utf8').catch((err: unknown) => {
      throw new DaneError('UNREADABLE', `${values.key}: ${(err as Error).message}`, { file: values.key });
    });
    let key;
    try {
      key = text.includes('PRIVATE KEY') ? createPrivateKey(text) : createPublicKey(text);
    } catch (err) {
      throw new DaneError('NOT_CERTIFICATE', `${values.key}: not a PEM key: ${(err as Error).message}`, { file: values.key }, { cause: err });
    }
    checkKeyMatches(values.key, chains[0]!.certs[0]!, key);
  }
  const unique = records.filter((r, i) => records.findIndex((x) => tlsaText(x) === tlsaText(r)) === i);
  if (values.host) io.stdout.write(formatRecords(tlsaOwner(values.host, port, proto), unique, fmt, ttl));
  else if (fmt === 'json') io.stdout.write(formatRecords('', unique, fmt, ttl));
  else io.stdout.write(unique.map((r) => `${tlsaText(r)}\n`).join(''));
  // Not lint: what the records can and cannot do with this input (--no-lint keeps them).
  for (const w of warnings) io.stderr.write(`warning: ${w.message}\n`);
  if (!values['no-lint']) {
    for (const f of lintRecords({ port, records: unique, chains, ...(values.host ? { host: values.host } : {}), now })) io.stderr.write(`warning: ${f.message}\n`);
  }
  return 0;
}

async function runCheck(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: { ...COMMON, connect: { type: 'string' }, dns: { type: 'string', multiple: true }, starttls: { type: 'string' }, json: { type: 'boolean' }, timeout: { type: 'string' } },
  });
  const host = positionals[0] ?? values.host;
  if (!host) throw new UsageError('tlsa check needs HOST');
  if (values.starttls !== undefined && values.starttls !== 'smtp' && values.starttls !== 'none') throw new UsageError('--starttls must be smtp or none');
  const { config } = await loadConfig(values.config);
  const servers = (values.dns ?? []).map(parseDnsServer);
  const lookup = createResolver({ ...resolverOptions(config.dns, { servers }), maxEntries: 0 });
  const port = num(values.port, 'port', 1, 65535) ?? 25;
  const report = await checkDane({
    host,
    port,
    proto: protoOf(values.proto),
    lookup,
    now: nowOf(values.now),
    timeoutMs: num(values.timeout, 'timeout', 1, 600_000) ?? config.dane.timeout,
    ...(values.connect ? { address: values.connect } : {}),
    ...(values.starttls ? { starttls: values.starttls } : {}),
  });
  if (values.json) {
    io.stdout.write(
      `${JSON.stringify(
        {
          status: report.status,
          exit: CHECK_EXIT[report.status],
          owner: report.owner,
          authenticated: report.authenticated,
          message: report.message,
          records: report.verdict?.records.map((r) => ({ record: tlsaText(r.record), status: r.status, detail: r.detail })) ?? report.records?.map((r) => ({ record: tlsaText(r) })),
          presented: report.presented?.map(certJson),
          chains: report.chains?.map((c) => ({
            keyType: c.certs[0]?.publicKey.asymmetricKeyType,
            matched: c.verdict.matched,
            presented: c.certs.map(certJson),
            records: c.verdict.records.map((r) => ({ record: tlsaText(r.record), status: r.status, detail: r.detail })),
          })),
        },
        null,
        2,
      )}\n`,
    );
  } else {
    io.stdout.write(`${report.owner} ${report.authenticated === undefined ? '' : report.authenticated ? '(DNSSEC-validated, AD=1)' : '(NOT validated, AD=0)'}\n`);
    for (const chain of report.chains ?? []) {
      io.stdout.write(`${chain.certs[0]?.publicKey.asymmetricKeyType ?? '?'} chain: ${chain.verdict.matched ? 'matches' : 'NO MATCH'}\n`);
      for (const c of chain.certs) io.stdout.write(`  presented: ${certName(c)} (issuer ${oneLine(c.issuer) || '(empty)'})\n`);
      for (const r of chain.verdict.records) io.stdout.write(`  ${r.status.padEnd(9)} ${tlsaText(r.record)}\n            ${r.detail}\n`);
    }
    if (!report.chains) for (const r of report.records ?? []) io.stdout.write(`  record    ${tlsaText(r)}\n`);
    io.stdout.write(`${report.status}: ${report.message}\n`);
  }
  return CHECK_EXIT[report.status];
}

const certJson = (c: X509Certificate) => ({ subject: oneLine(c.subject), issuer: oneLine(c.issuer), notAfter: c.validToDate.toISOString(), keyType: c.publicKey.asymmetricKeyType });

interface SiteFlags {
  readonly site: DaneSiteConfig;
  readonly owner: string;
  readonly zone: string;
  readonly stateFile: string;
  readonly servers: readonly DnsServer[];
  readonly now: number;
}

/** --host/--port/--zone/--auth/--ttl/--state over the configured site of that host (or the only one). */
function siteFrom(config: Config, values: { host?: string | undefined; port?: string | undefined; proto?: string | undefined; zone?: string | undefined; auth?: string[] | undefined; ttl?: string | undefined; state?: string | undefined; now?: string | undefined }): SiteFlags {
  const sites = config.dane.sites;
  const configured = values.host ? sites.find((s) => s.host === values.host!.toLowerCase().replace(/\.$/, '')) : sites.length === 1 ? sites[0] : undefined;
  const host = values.host ?? configured?.host;
  if (!host) throw new UsageError('--host is required (or configure exactly one dane.sites entry)');
  const port = num(values.port, 'port', 1, 65535) ?? configured?.port ?? 25;
  const ttl = num(values.ttl, 'ttl', 0, 2 ** 31 - 1);
  const site: DaneSiteConfig = {
    host: host.toLowerCase().replace(/\.$/, ''),
    port,
    proto: values.proto ? protoOf(values.proto) : (configured?.proto ?? 'tcp'),
    zone: values.zone ?? configured?.zone,
    cert_files: configured?.cert_files ?? [],
    next_files: configured?.next_files ?? [],
    records: configured?.records ?? 'smtp',
    authoritative: values.auth && values.auth.length > 0 ? values.auth.map(parseDnsServer) : (configured?.authoritative ?? []),
    ttl: ttl !== undefined ? ttl * 1000 : (configured?.ttl ?? 3_600_000),
  };
  const owner = tlsaOwner(site.host, site.port, site.proto);
  return { site, owner, zone: siteZone(site), stateFile: values.state ?? stateFileFor(config.dane.state_dir, owner), servers: site.authoritative, now: nowOf(values.now) };
}

function observerFor(config: Config, servers: readonly DnsServer[], zone: string) {
  const lookup = servers.length > 0 ? undefined : createResolver(resolverOptions(config.dns));
  return (owner: string) => observeTlsa(owner, { zone, ...(servers.length > 0 ? { servers } : {}), ...(lookup ? { lookup } : {}), timeoutMs: config.dane.timeout });
}

const SITE_OPTIONS = { zone: { type: 'string' }, auth: { type: 'string', multiple: true }, ttl: { type: 'string' }, state: { type: 'string' } } as const;

async function runRollover(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({ args: [...argv], allowPositionals: true, options: { ...COMMON, ...SITE_OPTIONS, next: { type: 'string', multiple: true }, format: { type: 'string' } } });
  const { config } = await loadConfig(values.config);
  const f = siteFrom(config, values);
  const current = positionals.length > 0 ? positionals : f.site.cert_files;
  const nextFiles = values.next ?? f.site.next_files;
  if (current.length === 0) throw new UsageError('give the current certificate chain file(s)');
  const toRecords = async (files: readonly string[]): Promise<Tlsa[]> => {
    const out: Tlsa[] = [];
    for (const file of files) {
      const computed = computeRecords(await readTlsaSource(file, { now: f.now }), f.site.records === 'dane-ee' ? { usage: 3 } : {});
      for (const w of computed.warnings) io.stderr.write(`warning: ${w.message}\n`);
      out.push(...computed.records);
    }
    return out;
  };
  const inService = await toRecords(current);
  const next = await toRecords(nextFiles);
  const state = await loadRolloverState(f.stateFile, f.owner);
  const observations = await observerFor(config, f.servers, f.zone)(f.owner);
  const { state: newState, plan } = planRollover(state, { inService, next, observations, ttlSec: Math.round(f.site.ttl / 1000), smtp: f.site.port === 25 }, f.now);
  await saveRolloverState(f.stateFile, newState);
  const fmt = (values.format ?? 'zone') as TlsaFormat;
  if (fmt === 'json') {
    io.stdout.write(`${JSON.stringify({ owner: f.owner, phase: plan.phase, message: plan.message, publish: plan.publish.map(tlsaText), add: plan.add.map(tlsaText), remove: plan.remove.map(tlsaText), deploy: plan.deploy ?? null, observations }, null, 2)}\n`);
    return 0;
  }
  io.stdout.write(`; publish now at ${f.owner} (current + next):\n`);
  io.stdout.write(plan.publish.map((r) => `${f.owner} ${Math.round(f.site.ttl / 1000)} IN TLSA ${tlsaText(r)}\n`).join(''));
  for (const o of observations) io.stdout.write(`; ${o.server}: ${o.ok ? `${o.records.length} record(s), TTL ${o.ttl}` : `not serving (${o.error})`}\n`);
  io.stdout.write(`; ${plan.phase}: ${plan.message}\n`);
  if (plan.deploy) io.stdout.write(`; deploy ${plan.deploy.safe ? 'SAFE' : 'NOT safe'}: ${plan.deploy.reason}\n`);
  if (plan.remove.length > 0) io.stdout.write(`; may go: ${plan.remove.map(tlsaText).join(', ')}\n`);
  return 0;
}

/** certbot pre/deploy hook: exit 1 when deploying CERT now would break DANE. */
async function runDeployCheck(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({ args: [...argv], allowPositionals: true, options: { ...COMMON, ...SITE_OPTIONS, 'deploy-check': { type: 'string' } } });
  const certFile = values['deploy-check'] ?? positionals[0];
  if (!certFile) throw new UsageError('--deploy-check needs CERT');
  const { config } = await loadConfig(values.config);
  const f = siteFrom(config, values);
  let verdict;
  try {
    const src = await readTlsaSource(certFile, { now: f.now });
    const observations = await observerFor(config, f.servers, f.zone)(f.owner);
    const state = observe(await loadRolloverState(f.stateFile, f.owner), observations, f.now);
    await saveRolloverState(f.stateFile, state);
    for (const o of observations) if (!o.ok) io.stderr.write(`${o.server}: not serving (${o.error})\n`);
    verdict =
      src.kind === 'chain'
        ? deployVerdict(state, { chain: src.certs, host: f.site.host, smtp: f.site.port === 25 }, Math.round(f.site.ttl / 1000), f.now)
        : deployVerdict(state, { records: recordsFor(src), smtp: f.site.port === 25 }, Math.round(f.site.ttl / 1000), f.now);
  } catch (err) {
    io.stderr.write(`mailanchor tlsa: cannot tell whether deploying ${certFile} is safe: ${describeError(err).message}\n`);
    return 2;
  }
  if (verdict.safe) {
    io.stdout.write(`${certFile}: safe to deploy for ${f.owner}: ${verdict.reason}\n`);
    return 0;
  }
  io.stderr.write(`${certFile}: NOT safe to deploy for ${f.owner}: ${verdict.reason}${verdict.safeAt === undefined ? '' : ` (safe from ${new Date(verdict.safeAt).toISOString()})`}\n`);
  return 1;
}

async function runSidecarCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({ args: [...argv], options: { config: { type: 'string' }, once: { type: 'boolean' }, publisher: { type: 'string' }, server: { type: 'string' }, tsig: { type: 'string' }, fragment: { type: 'string' }, reload: { type: 'string' }, hook: { type: 'string' } } });
  const { config } = await loadConfig(values.config);
  const logger = createLogger(config.log, io.stderr);
  let publisher: TlsaPublisher;
  if (values.publisher === 'rfc2136') {
    if (!values.server) throw new UsageError('--publisher rfc2136 needs --server HOST[:PORT] (the primary)');
    publisher = rfc2136Publisher(parseDnsServer(values.server), values.tsig ? await loadTsigKey(values.tsig) : undefined, { timeoutMs: config.dane.timeout });
  } else if (values.publisher === 'zone-file') {
    if (!values.fragment) throw new UsageError('--publisher zone-file needs --fragment FILE (and usually --reload "knotc zone-reload example.org")');
    publisher = zoneFilePublisher(values.fragment, values.reload ? values.reload.split(/\s+/).filter(Boolean) : []);
  } else if (values.publisher === 'hook') {
    if (!values.hook) throw new UsageError('--publisher hook needs --hook "COMMAND ARGS" (gets the record set as JSON on stdin)');
    publisher = hookPublisher(values.hook.split(/\s+/).filter(Boolean));
  } else if (values.publisher === undefined || values.publisher === 'manual') {
    publisher = manualPublisher(logger);
  } else {
    throw new UsageError('--publisher must be manual, rfc2136, zone-file or hook');
  }
  const deps = {
    publisher,
    observe: (site: DaneSiteConfig, owner: string) => observerFor(config, site.authoritative, siteZone(site))(owner),
    loadState: (owner: string) => loadRolloverState(stateFileFor(config.dane.state_dir, owner), owner),
    saveState: (state: Parameters<typeof saveRolloverState>[1]) => saveRolloverState(stateFileFor(config.dane.state_dir, state.owner), state),
    now: Date.now,
    logger,
  };
  if (values.once) {
    const results = await Promise.all(config.dane.sites.map((s) => syncSite(s, deps)));
    return results.every((r) => r.ok) ? 0 : 1;
  }
  const ac = new AbortController();
  const stop = (): void => ac.abort();
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  try {
    await runSidecar(config.dane.sites, deps, { intervalMs: config.dane.interval, signal: ac.signal });
  } finally {
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
  }
  return 0;
}
