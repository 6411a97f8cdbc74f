/**
 * `mailanchor audit [DOMAIN…] [--all] [--dns HOST[:PORT]]… [--selector S]… [--connect]
 *                  [--json | --html FILE] [--metrics-file FILE] [--config FILE] …`
 *
 * Every check of docs/audit.md for each domain, on every authoritative server. Exit 0 when
 * no check says fail or error, 1 when one does, 2 when the audit cannot run (usage, config).
 * A progress line goes to stderr when it is a terminal.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { auditDomains, type AuditSettings } from '../audit/runner.ts';
import { AuditDns, countingTransport } from '../audit/dns-context.ts';
import { configuredDomains } from '../audit/domains.ts';
import { loadKnownCertificates } from '../audit/gather/known-certificates.ts';
import { renderMetrics, writeMetricsFile } from '../audit/metrics-file.ts';
import { fileHistory, memoryHistory } from '../audit/policy-history.ts';
import { domainStatus, renderHtml, renderJson, renderText, summary } from '../audit/render.ts';
import type { DomainAudit } from '../audit/types.ts';
import { ConfigError, formatIssue, loadConfig } from '../config/load.ts';
import { parseDnsServer, resolverOptions } from '../dns/config.ts';
import { createResolver } from '../dns/resolver.ts';
import { describeError } from '../errors.ts';
import type { StoredKey } from '../keys/key-store.ts';
import { openStore, storeTarget } from '../store/open.ts';
import type { CliCommand, CliIo } from './io.ts';

const USAGE = `usage: mailanchor audit [DOMAIN…] [--all] [--dns HOST[:PORT]]… [--selector S]… [--connect]
                       [--json | --html FILE] [--verbose] [--metrics-file FILE]
                       [--concurrency N] [--timeout SEC] [--store FILE] [--ca-file PEM] [--config FILE]
  --all             every domain the config knows (keys, hosted, DANE sites, report domains, audit.domains)
  --dns             resolver(s) to use (a validating one, e.g. a local Unbound); default dns.servers
  --selector        a DKIM selector to check for every domain, besides the keystore's
  --connect         STARTTLS to every MX address (DANE) and the MTA-STS policy over HTTPS
  --json            the JSON report (docs/audit.md) on stdout
  --html FILE       one self-contained HTML page
  --verbose         text report: ok results too
  --metrics-file    Prometheus textfile for node_exporter (default audit.metrics_file)
exit: 0 nothing fails, 1 a check says fail or error, 2 usage or config error
`;

class UsageError extends Error {}

const SELECTOR = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*$/i;

function positiveInt(v: string | undefined, name: string, max: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new UsageError(`--${name} must be a whole number 1–${max}, got ${JSON.stringify(v)}`);
  return n;
}

export const run: CliCommand = async (argv, io) => {
  try {
    return await audit(argv, io);
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.stderr.write(`mailanchor audit: ${(err as Error).message}\n\n${USAGE}`);
      return 2;
    }
    if (err instanceof ConfigError) {
      io.stderr.write(err.issues.map((i) => `mailanchor audit: ${formatIssue(i)}\n`).join(''));
      return 2;
    }
    io.stderr.write(`mailanchor audit: ${describeError(err).message}\n`);
    return 2;
  }
};

async function audit(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      config: { type: 'string' },
      all: { type: 'boolean' },
      dns: { type: 'string', multiple: true },
      selector: { type: 'string', multiple: true },
      connect: { type: 'boolean' },
      json: { type: 'boolean' },
      html: { type: 'string' },
      verbose: { type: 'boolean', short: 'v' },
      'metrics-file': { type: 'string' },
      concurrency: { type: 'string' },
      timeout: { type: 'string' },
      store: { type: 'string' },
      'ca-file': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    io.stdout.write(USAGE);
    return 0;
  }
  if (values.json && values.html !== undefined) throw new UsageError('--json and --html are alternatives: give one');
  const selectors = (values.selector ?? []).map((s) => s.toLowerCase());
  for (const s of selectors) if (!SELECTOR.test(s)) throw new UsageError(`--selector ${JSON.stringify(s)} is not a DNS label`);
  const servers = (values.dns ?? []).map((d) => {
    try {
      return parseDnsServer(d);
    } catch (err) {
      throw new UsageError(describeError(err).message);
    }
  });
  const concurrency = positiveInt(values.concurrency, 'concurrency', 256);
  const timeoutSec = positiveInt(values.timeout, 'timeout', 3600);
  const { config } = await loadConfig(values.config);
  const domains = [...new Set([...positionals, ...(values.all ? configuredDomains(config) : [])])];
  if (domains.length === 0) throw new UsageError(values.all ? 'the config names no domain (keys.domains, dane.sites, reports.domains, audit.domains); give DOMAIN arguments' : 'give DOMAIN arguments or --all');

  const transport = countingTransport();
  const base = { ...resolverOptions(config.dns, { servers }), transport };
  const dns = new AuditDns({
    lookup: createResolver({ ...base, checkingDisabled: true }),
    validating: createResolver(base),
    resolvers: base.servers,
    transport,
    timeoutMs: config.audit.query_timeout,
    resolverTimeoutMs: config.dns.timeout,
  });

  // The keystore is read once, never written; a missing SQLite file is no keystore, not a new one.
  const byDomain = new Map<string, StoredKey[]>();
  let storeError: string | undefined;
  try {
    const target = storeTarget(config.store, values.store ? { override: values.store } : {});
    if (target.engine === 'sqlite' && !existsSync(target.path)) storeError = `no keystore at ${target.path}`;
    else {
      const store = await openStore(config.store, values.store ? { override: values.store } : {});
      try {
        for (const k of await store.keys.list()) byDomain.set(k.domain, [...(byDomain.get(k.domain) ?? []), k]);
      } finally {
        await store.close();
      }
    }
  } catch (err) {
    storeError = describeError(err).message;
  }
  const keys = (domain: string): readonly StoredKey[] => {
    if (storeError === undefined) return byDomain.get(domain) ?? [];
    if (config.keys.domains[domain]) throw new Error(storeError);
    return [];
  };

  const caFile = values['ca-file'] ?? config.audit.ca_file;
  const extraCa = caFile ? [await readFile(caFile, 'utf8').catch((err: unknown) => { throw new UsageError(`--ca-file ${caFile}: ${describeError(err).message}`); })] : [];
  const history = values.connect ? await fileHistory(config.audit.state_dir) : memoryHistory();
  const started = Date.now();
  const settings: AuditSettings = {
    sendingAddresses: config.audit.sending_addresses,
    selectors,
    keysConfig: config.keys,
    keys,
    known: await loadKnownCertificates(config.dane.sites, started),
    connect: values.connect ?? false,
    maxMxHosts: config.audit.max_mx_hosts,
    spfLimits: { lookups: config.inbound.spf_max_lookups, voidLookups: config.inbound.spf_max_void_lookups },
    expiryWarningMs: config.audit.rrsig_expiry_warning,
    domainTimeoutMs: timeoutSec !== undefined ? timeoutSec * 1000 : config.audit.domain_timeout,
    connectTimeoutMs: config.audit.connect_timeout,
    extraCa,
    history,
    now: Date.now,
  };

  const tty = (io.stderr as { isTTY?: boolean }).isTTY === true;
  let failing = 0;
  const progress = (d: DomainAudit, done: number, total: number) => {
    const st = domainStatus(d);
    if (st === 'fail' || st === 'error') failing++;
    if (tty) io.stderr.write(`\r\x1b[Kaudit: ${done}/${total} domains, ${failing} with fail/error, ${((Date.now() - started) / 1000).toFixed(0)} s`);
  };
  const results: DomainAudit[] = await auditDomains(domains, dns, settings, { concurrency: concurrency ?? config.audit.concurrency, onDone: progress });
  if (tty) io.stderr.write('\r\x1b[K');
  const finished = new Date();

  if (values.json) io.stdout.write(renderJson(results, finished));
  else io.stdout.write(renderText(results, { verbose: values.verbose ?? false }));
  if (values.html !== undefined) {
    const { writeFile } = await import('node:fs/promises');
    await writeFile(values.html, renderHtml(results, finished));
  }
  try {
    await history.save();
  } catch (err) {
    io.stderr.write(`mailanchor audit: warning: MTA-STS policy history not saved in ${config.audit.state_dir}: ${describeError(err).message}\n`);
  }
  const metricsFile = values['metrics-file'] ?? config.audit.metrics_file;
  if (metricsFile) {
    try {
      await writeMetricsFile(metricsFile, renderMetrics(results, finished, finished.getTime() - started));
    } catch (err) {
      io.stderr.write(`mailanchor audit: metrics file ${metricsFile} not written: ${describeError(err).message}\n`);
      return 1;
    }
  }
  const s = summary(results);
  return s.fail + s.error > 0 ? 1 : 0;
}
