/**
 * The receiving half of `mailanchor report`, dispatched to by `report.ts`:
 *
 * `report read PATH… [--html FILE] [--json FILE] [--no-dns]` — read reports from files,
 *     directories, Maildirs and mbox files and show the page (no store needed);
 * `report import [PATH…]` — store received reports in the history; without paths, fetch
 *     them from the mailbox in `reports.import.imap` and move them to its folders;
 * `report page [--html FILE] [--json FILE] [--days N] [--domain D]… [--no-dns]` — the page
 *     from the history, with explanations from our keystore and DANE state.
 *
 * The history is the store's (`Store.received`): a PostgreSQL store (`store.url`, `--store`)
 * gives every host of a fleet the same one.
 */
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Config } from '../config/sections.ts';
import { parseDnsServer, resolverOptions } from '../dns/config.ts';
import { createResolver } from '../dns/resolver.ts';
import type { DnsLookup } from '../dns/types.ts';
import { describeError } from '../errors.ts';
import { exitFor } from './error-exit.ts';
import { leaseHolder } from '../keys/lease.ts';
import { normalizeDomain } from '../mail/domain.ts';
import { ReportError } from '../reports/errors.ts';
import type { ReadLimits } from '../reports/read/limits.ts';
import { ConsumerFailure, readPaths, type ReadOutcome } from '../reports/read/reader.ts';
import { assemblePage } from '../reports/received/assemble.ts';
import { readLimits } from '../reports/received/config.ts';
import { pageConsumer, storeConsumer, type ImportCounters } from '../reports/received/consumers.ts';
import { gatherHistory } from '../reports/received/history-facts.ts';
import type { Page } from '../reports/received/page.ts';
import { PageBuilder } from '../reports/received/page-model.ts';
import { renderHtml } from '../reports/received/render-html.ts';
import { renderText } from '../reports/received/render-text.ts';
import type { Store } from '../store/store.ts';
import { EX, type ExitCode } from './exit-codes.ts';
import type { CliIo } from './io.ts';
import { UsageError } from './outcome.ts';
import type { parseCommand } from './parse.ts';
import { startProgress } from './progress.ts';
import type { REPORT } from './specs/report.ts';

/** The options `mailanchor report` was given (specs/report.ts). */
export type ReportValues = Extract<ReturnType<typeof parseCommand<typeof REPORT>>, { kind: 'run' }>['values'];

/** Opens the store the command names (`--store`, or the config's `store.url` / `store.path`), migrated or checked. */
export type OpenStore = () => Promise<Store>;

const limitsOf = (config: Config): ReadLimits => readLimits(config.reports.read);

function dnsFor(config: Config, values: { 'no-dns'?: boolean | undefined; dns?: string[] | undefined }): DnsLookup | undefined {
  if (values['no-dns']) return undefined;
  return createResolver(resolverOptions(config.dns, values.dns ? { servers: values.dns.map(parseDnsServer) } : {}));
}

const titleFor = (domains: readonly string[]): string => `DMARC and TLS reports${domains.length ? ` for ${domains.join(', ')}` : ''}`;

async function writeOutputs(page: Page, values: { html?: string | undefined; json?: string | undefined }, io: CliIo): Promise<void> {
  if (values.json === '-') {
    io.stdout.write(`${JSON.stringify(page, null, 2)}\n`);
  } else {
    io.stdout.write(renderText(page));
    if (values.json) {
      const out = resolve(io.cwd, values.json);
      await writeFile(out, `${JSON.stringify(page, null, 2)}\n`);
      io.stdout.write(`JSON written to ${out}\n`);
    }
  }
  if (values.html) {
    const out = resolve(io.cwd, values.html);
    await writeFile(out, renderHtml(page));
    if (values.json !== '-') io.stdout.write(`HTML page written to ${out}\n`);
  }
}

export async function readCommand(values: ReportValues, positionals: readonly string[], io: CliIo, config: Config): Promise<ExitCode> {
  if (positionals.length === 0) throw new UsageError('read needs at least one PATH');
  const builder = new PageBuilder();
  const skipped: { source: string; reason: string }[] = [];
  let dmarc = 0;
  let tls = 0;
  let duplicates = 0;
  let warnings = 0;
  for await (const o of readPaths(positionals.map((p) => resolve(io.cwd, p)), limitsOf(config), pageConsumer(builder, config.reports.domains))) {
    if (o.status === 'skipped') {
      if (o.code === 'DUPLICATE') duplicates++;
      skipped.push({ source: o.source, reason: o.reason });
    } else {
      if (o.kind === 'dmarc') dmarc++;
      else tls++;
      warnings += o.warnings.length;
    }
  }
  const page = await assemblePage(builder, {
    title: titleFor(config.reports.domains),
    now: Date.now(),
    ...((): { dns?: DnsLookup } => {
      const dns = dnsFor(config, values);
      return dns ? { dns } : {};
    })(),
    config: config.reports.page,
    history: { tlsa: [], certs: [] },
    skipped,
    read: { dmarcReports: dmarc, tlsReports: tls, duplicates, warnings },
  });
  await writeOutputs(page, values, io);
  // 0 when something was read; EX_DATAERR when every input was unusable.
  return dmarc + tls > 0 || skipped.length === 0 ? EX.OK : EX.DATAERR;
}

function describeOutcome(o: ReadOutcome): string {
  if (o.status === 'skipped') return `${o.code === 'DUPLICATE' ? 'duplicate' : o.code === 'IN_PROGRESS' ? 'in progress elsewhere' : 'skipped'} ${o.source}: ${o.reason}`;
  const w = o.warnings.length ? ` [${o.warnings.join('; ')}]` : '';
  if (o.kind === 'dmarc') return `stored DMARC report ${o.header.reportId} from ${o.header.orgName} for ${o.header.policy.domain}: ${o.stats.rows} record(s), ${o.stats.messages} message(s)${w}`;
  return `stored TLS report ${o.report.reportId} from ${o.report.orgName} for ${[...new Set(o.report.policies.map((p) => p.policyDomain))].join(', ')}${w}`;
}

export async function importCommand(positionals: readonly string[], io: CliIo, config: Config, open: OpenStore): Promise<ExitCode> {
  const counters: ImportCounters = { stored: 0, duplicates: 0, inProgress: 0 };
  let skipped = 0;
  const imap = config.reports.import.imap;
  if (!positionals.length && !imap) throw new UsageError('no PATH given and reports.import.imap is not configured');
  const progress = startProgress(io.stderr, 'report import', { env: io.env });
  const out = progress.guard(io.stdout);
  let opened: Store | undefined;
  try {
    opened = await open();
    const store = opened.received;
    const onOutcome = (o: ReadOutcome): void => {
      if (o.status === 'skipped' && o.code !== 'DUPLICATE' && o.code !== 'IN_PROGRESS') skipped++;
      out.write(`${describeOutcome(o)}\n`);
      progress.set(`${counters.stored} stored, ${counters.duplicates} already known, ${skipped} skipped`);
    };
    if (positionals.length) {
      for await (const o of readPaths(positionals.map((p) => resolve(io.cwd, p)), limitsOf(config), storeConsumer(store, config.reports.domains, () => 'file', Date.now, counters))) onOutcome(o);
    } else if (imap) {
      // Loaded only here: imapflow and its dependencies are not needed by read and page.
      const { importFromImap } = await import('../reports/received/imap-import.ts');
      const r = await importFromImap(imap, {
        env: io.env,
        limits: limitsOf(config),
        consumer: (source) => storeConsumer(store, config.reports.domains, () => source, Date.now, counters),
        onOutcome,
        onMove: (uid, folder, why) => out.write(`moved message ${uid} to ${folder} (${why})\n`),
        lease: opened.lease,
        holder: leaseHolder(),
        now: Date.now,
      });
      if (r.status === 'busy') io.stdout.write(`${imap.folder}: another run holds the lease on this mailbox (on this host or another); nothing done\n`);
      if (r.status === 'lease-lost') io.stdout.write(`${imap.folder}: the lease on this mailbox expired and another run took it; stopped\n`);
      if (r.status !== 'busy') io.stdout.write(`${imap.folder}: ${r.messages} message(s), ${r.processed} to ${imap.processed_folder}, ${r.failed} to ${imap.failed_folder}${r.left ? `, ${r.left} left for the next run` : ''}\n`);
    }
    progress.done();
    const now = Date.now();
    const pruned = await store.prune(Math.floor((now - config.reports.import.keep) / 1000), now);
    io.stdout.write(`${counters.stored} report(s) stored, ${counters.duplicates} already known${counters.inProgress ? `, ${counters.inProgress} being stored by another import` : ''}${pruned.dmarc + pruned.tls ? `; pruned ${pruned.dmarc + pruned.tls} report(s) older than reports.import.keep` : ''}\n`);
    if (positionals.length && counters.stored + counters.duplicates + counters.inProgress === 0 && skipped > 0) return EX.DATAERR;
    return EX.OK;
  } catch (err) {
    progress.done();
    // The store or the mailbox failed: nothing was lost (messages stay where they were); the timer retries.
    const d = describeError(err instanceof ConsumerFailure ? err.cause : err);
    io.stderr.write(`mailanchor report import: ${err instanceof ConsumerFailure || !opened ? 'store failed: ' : ''}${d.message}\n`);
    return err instanceof ReportError && err.code !== 'MAILBOX' ? exitFor(err) : EX.TEMPFAIL;
  } finally {
    progress.done();
    await opened?.close();
  }
}

export async function pageCommand(values: ReportValues, io: CliIo, config: Config, open: OpenStore): Promise<ExitCode> {
  const now = Date.now();
  const windowMs = values.days ? Number(values.days) * 86_400_000 : config.reports.page.window;
  if (!Number.isFinite(windowMs) || windowMs <= 0) throw new UsageError(`--days ${values.days}: not a number of days`);
  const given = (values.domain ?? []).map((d) => ({ d, n: normalizeDomain(d) }));
  const bad = given.find((g) => g.n === undefined);
  if (bad) throw new UsageError(`--domain ${bad.d}: not a domain name`);
  const domains = given.length ? given.map((g) => g.n!) : config.reports.domains;
  const window = { from: Math.floor((now - windowMs) / 1000), to: Math.floor(now / 1000) };
  const opened = await open();
  try {
    const store = opened.received;
    const builder = new PageBuilder();
    let dmarc = 0;
    let tls = 0;
    for await (const { report, rows } of store.dmarc({ ...window, domains })) {
      const feed = builder.dmarc(report.header);
      for await (const batch of rows) feed(batch);
      dmarc++;
    }
    for await (const { report } of store.tls({ ...window, domains })) {
      builder.tls(report);
      tls++;
    }
    const { history, notes } = await gatherHistory(opened.keys, config.dane);
    for (const n of notes) io.stderr.write(`note: ${n}\n`);
    const dns = dnsFor(config, values);
    const page = await assemblePage(builder, {
      title: titleFor(domains),
      now,
      window,
      ...(dns ? { dns } : {}),
      config: config.reports.page,
      history,
      skipped: [],
      read: { dmarcReports: dmarc, tlsReports: tls, duplicates: 0, warnings: 0 },
    });
    await writeOutputs(page, values, io);
    return EX.OK;
  } finally {
    await opened.close();
  }
}
