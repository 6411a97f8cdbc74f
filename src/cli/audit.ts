/**
 * `mailanchor audit [DOMAIN…] [--all] [--dns HOST[:PORT]]… [--selector S]… [--connect]
 *                  [--json | --html FILE] [--metrics-file FILE] [--config FILE] …`
 * (options: specs/audit.ts)
 *
 * Every check of docs/audit.md for each domain, on every authoritative server. Exit 0 when
 * no check says fail or error, 1 when one does, 2 when the audit cannot run (usage, config):
 * the answer contract of docs/audit.md, kept instead of sysexits (exit-codes.ts `ANSWER`).
 * A progress line goes to stderr when it is a terminal (progress.ts).
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
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
import { ANSWER, type AnswerExit } from './exit-codes.ts';
import type { CliCommand, CliIo } from './io.ts';
import { answer, UsageError, usageFailure } from './outcome.ts';
import { parseCommand } from './parse.ts';
import { startProgress } from './progress.ts';
import { AUDIT } from './specs/audit.ts';

const SELECTOR = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*$/i;

function positiveInt(v: string | undefined, name: string, max: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new UsageError(`--${name} must be a whole number 1–${max}, got ${JSON.stringify(v)}`);
  return n;
}

export const run: CliCommand = async (argv, io) => {
  const parsed = parseCommand(AUDIT, argv);
  if (parsed.kind !== 'run') return answer(parsed, io);
  try {
    return await audit(parsed.values, parsed.positionals, io);
  } catch (err) {
    if (err instanceof UsageError) return usageFailure(parsed.invocation, err.message, io);
    if (err instanceof ConfigError) {
      io.stderr.write(err.issues.map((i) => `mailanchor audit: ${formatIssue(i)}\n`).join(''));
      return ANSWER.UNKNOWN;
    }
    io.stderr.write(`mailanchor audit: ${describeError(err).message}\n`);
    return ANSWER.UNKNOWN;
  }
};

type AuditValues = Extract<ReturnType<typeof parseCommand<typeof AUDIT>>, { kind: 'run' }>['values'];

async function audit(values: AuditValues, positionals: readonly string[], io: CliIo): Promise<AnswerExit> {
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

  const progress = startProgress(io.stderr, 'audit', { env: io.env });
  let failing = 0;
  progress.set(`0/${domains.length} domains`);
  const onDone = (d: DomainAudit, done: number, total: number) => {
    const st = domainStatus(d);
    if (st === 'fail' || st === 'error') failing++;
    progress.set(`${done}/${total} domains, ${failing} with fail/error`);
  };
  let results: DomainAudit[];
  try {
    results = await auditDomains(domains, dns, settings, { concurrency: concurrency ?? config.audit.concurrency, onDone });
  } finally {
    progress.done();
  }
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
      return ANSWER.NO;
    }
  }
  const s = summary(results);
  return s.fail + s.error > 0 ? ANSWER.NO : ANSWER.YES;
}
