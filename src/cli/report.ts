/**
 * `mailanchor report send [--dry-run]` — generate due DMARC aggregate reports and hand them
 *     to the MTA (what went where, what was skipped and why; on a terminal a progress line
 *     counts the deliveries);
 * `mailanchor report show` — reports, deliveries, suppressions, bounces and evaluations stored;
 * `mailanchor report suppress|unsuppress ADDRESS|DOMAIN` — the suppression list;
 * `mailanchor report read|import|page …` — received reports: see `report-received.ts`.
 *
 * Options: specs/report.ts.
 */
import { loadConfig } from '../config/load.ts';
import type { Config } from '../config/sections.ts';
import { parseDnsServer, resolverOptions } from '../dns/config.ts';
import { createResolver } from '../dns/resolver.ts';
import { parseRua } from '../reports/destinations.ts';
import { runOnDemand, runSendJob, type SendEvent } from '../reports/send-job.ts';
import { smtpTransport } from '../reports/smtp-client.ts';
import { sendmailTransport, type MailTransport } from '../reports/transport.ts';
import { EX, type ExitCode } from './exit-codes.ts';
import type { CliCommand, CliIo } from './io.ts';
import { openCommandStore } from './open-store.ts';
import { answer, failure, UsageError } from './outcome.ts';
import { parseCommand } from './parse.ts';
import { guardIo, startProgress, type Progress } from './progress.ts';
import { importCommand, pageCommand, readCommand, type OpenStore, type ReportValues } from './report-received.ts';
import { REPORT } from './specs/report.ts';

export function transportFor(config: Config): MailTransport {
  const r = config.reports;
  return r.transport === 'smtp'
    ? smtpTransport({ host: r.smtp.host.host, port: r.smtp.host.port, helo: r.smtp.helo, timeoutMs: r.smtp.timeout })
    : sendmailTransport(r.sendmail.path, r.sendmail.args);
}

const iso = (s: number) => new Date(s * 1000).toISOString().replace('.000Z', 'Z');

export function formatEvent(e: SendEvent): string {
  switch (e.kind) {
    case 'bad-row':
      return `evaluation #${e.id} skipped (kept in the store): ${e.reason}`;
    case 'generated':
      return `${e.onDemand ? 'on-demand report (not stored)' : 'report'} ${e.reportId} for ${e.policyDomain} ${iso(e.begin)}..${iso(e.end)}: ${e.messages} message(s), ${e.records} record(s) → ${e.destinations.join(', ') || '(no rua)'}`;
    case 'sent':
      return `sent ${e.reportId} to ${e.address}: ${e.detail}`;
    case 'would-send':
      return `would send ${e.reportId} to ${e.address}: ${e.detail}`;
    case 'skipped':
      return `not sending ${e.reportId} to ${e.address}: ${e.reason}`;
    case 'deferred':
      return e.onDemand ? `not sent ${e.reportId} to ${e.address} (on-demand reports are not retried): ${e.reason}` : `deferred ${e.reportId} to ${e.address} (retried next run): ${e.reason}`;
    case 'unauthorized':
      return `waiting to send ${e.reportId} to ${e.address}: ${e.reason}; asked again on every run until ${new Date(e.until).toISOString()}`;
    case 'claimed-elsewhere':
      return `left ${e.reportId} to ${e.address} to another run (it holds the claim)`;
    case 'suppressed-now':
      return `suppressed ${e.address} from now on: ${e.reason}`;
    case 'pruned':
      return `pruned ${e.evaluations} evaluation(s) and ${e.reports} report(s)`;
  }
}

/** `START..END`: dates (UTC midnight) or ISO times; END is exclusive. */
export function parsePeriod(text: string): { begin: number; end: number } {
  const m = /^(.+?)\.\.(.+)$/.exec(text.trim());
  const at = (v: string): number => {
    const t = Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(v) ? `${v}T00:00:00Z` : v);
    if (Number.isNaN(t)) throw new UsageError(`--period: not a date or time: ${v}`);
    return t;
  };
  if (!m) throw new UsageError(`--period: expected START..END (e.g. 2026-11-22..2026-11-23), got ${JSON.stringify(text)}`);
  const begin = at(m[1]!);
  const end = at(m[2]!);
  if (end <= begin) throw new UsageError(`--period: END must be after START (${text})`);
  return { begin, end };
}

/** The transport, telling the progress line about each hand-off to the MTA (which may take seconds). */
export function watchedTransport(transport: MailTransport, progress: Progress): MailTransport {
  if (!progress.active) return transport;
  let handed = 0;
  let refused = 0;
  return {
    describe: transport.describe,
    send: async (msg) => {
      progress.set(`${handed} handed to the MTA${refused ? `, ${refused} not` : ''}; now ${msg.to}`);
      try {
        const r = await transport.send(msg);
        handed++;
        return r;
      } catch (err) {
        refused++;
        throw err;
      } finally {
        progress.set(`${handed} handed to the MTA${refused ? `, ${refused} not` : ''}`);
      }
    },
  };
}

async function send(values: ReportValues, io: CliIo, config: Config, open: OpenStore): Promise<ExitCode> {
  if (values.now && values.period) throw new UsageError('--now and --period exclude each other');
  const onDemand = values.now === true || values.period !== undefined;
  if (values.to !== undefined && !onDemand) throw new UsageError('--to applies to on-demand reports only (--now or --period)');
  if (values.to !== undefined && typeof parseRua(`mailto:${values.to}`) === 'string') throw new UsageError(`--to: not a mail address: ${values.to}`);
  const window = values.period ? parsePeriod(values.period) : undefined;
  // Reports switched off: an on-demand run may still go to the admin, never to the rua addresses.
  if (onDemand && !config.reports.enabled && values.to === undefined) throw new UsageError('reports.enabled is false: on-demand reports go only to an address given with --to');
  const progress = startProgress(io.stderr, 'report send', { env: io.env });
  io = guardIo(io, progress);
  progress.set(onDemand ? 'generating the on-demand report' : 'generating the reports of the periods that have ended');
  const store = await open();
  try {
    const dns = createResolver(resolverOptions(config.dns, values.dns ? { servers: values.dns.map(parseDnsServer) } : {}));
    const dryRun = values['dry-run'] === true;
    const deps = { evaluations: store.evaluations, ledger: store.ledger, config: config.reports, dns, transport: watchedTransport(transportFor(config), progress), now: Date.now, dryRun };
    const events = onDemand ? await runOnDemand(deps, { ...(window ? { window } : {}), ...(values.to ? { to: values.to } : {}) }) : await runSendJob(deps);
    progress.done();
    if (!onDemand && !config.reports.enabled) io.stdout.write('reports.enabled is false: nothing to do\n');
    if (events.length === 0) io.stdout.write(onDemand ? 'no evaluations in that period: nothing to report\n' : 'nothing to report\n');
    for (const e of events) io.stdout.write(`${dryRun ? '[dry run] ' : ''}${formatEvent(e)}\n`);
    return events.some((e) => e.kind === 'deferred') ? EX.TEMPFAIL : EX.OK; // the timer retries
  } finally {
    progress.done();
    await store.close();
  }
}

async function show(io: CliIo, config: Config, open: OpenStore): Promise<ExitCode> {
  const store = await open();
  const ledger = store.ledger;
  try {
    const ev = await store.evaluations.summary();
    io.stdout.write(`evaluations: ${ev.count}${ev.first !== undefined && ev.last !== undefined ? ` (${new Date(ev.first).toISOString()} .. ${new Date(ev.last).toISOString()})` : ''}\n`);
    const deliveries = await ledger.listDeliveries();
    const reports = await ledger.listReports();
    io.stdout.write(`reports: ${reports.length}\n`);
    for (const r of reports) {
      io.stdout.write(`  ${r.reportId}  ${r.policyDomain}  ${iso(r.beginAt)}..${iso(r.endAt)}  ${r.messageCount} msg  ${r.fileName}\n`);
      for (const d of deliveries.filter((x) => x.reportId === r.reportId)) {
        io.stdout.write(`    ${d.state.padEnd(7)} ${d.address}  attempts ${d.attempts}${d.sentAt ? `  sent ${new Date(d.sentAt).toISOString()}` : ''}${d.reason ? `  ${d.reason}` : ''}\n`);
      }
    }
    const sup = [...config.reports.suppress.map((e) => ({ entry: e, reason: 'config reports.suppress' })), ...(await ledger.listSuppressions())];
    io.stdout.write(`suppressed: ${sup.length}\n`);
    for (const s of sup) io.stdout.write(`  ${s.entry}  ${s.reason}\n`);
    const bounces = await ledger.listBounces();
    if (bounces.length) io.stdout.write(`bounces:\n${bounces.map((b) => `  ${b.address}  ${b.count}  ${b.lastReason}\n`).join('')}`);
    return EX.OK;
  } finally {
    await store.close();
  }
}

async function suppress(positionals: readonly string[], io: CliIo, open: OpenStore, add: boolean): Promise<ExitCode> {
  if (positionals.length !== 1 || !positionals[0]) throw new UsageError(`${add ? 'suppress' : 'unsuppress'} takes one ADDRESS or DOMAIN`);
  const store = await open();
  try {
    if (add) await store.ledger.addSuppression(positionals[0], 'added by hand', Date.now());
    else if (!(await store.ledger.removeSuppression(positionals[0]))) io.stdout.write(`${positionals[0]} was not suppressed\n`);
    return EX.OK;
  } finally {
    await store.close();
  }
}

export const run: CliCommand = async (argv, io) => {
  const parsed = parseCommand(REPORT, argv);
  if (parsed.kind !== 'run') return answer(parsed, io);
  const { sub, values, positionals, invocation } = parsed;
  try {
    const { config } = await loadConfig(values.config);
    const open: OpenStore = () => openCommandStore(config, values.store, io.cwd);
    switch (sub) {
      case 'send':
        return await send(values, io, config, open);
      case 'show':
        return await show(io, config, open);
      case 'suppress':
      case 'unsuppress':
        return await suppress(positionals, io, open, sub === 'suppress');
      case 'read':
        return await readCommand(values, positionals, io, config);
      case 'import':
        return await importCommand(positionals, io, config, open);
      case 'page':
        return await pageCommand(values, io, config, open);
    }
  } catch (err) {
    return failure(invocation, err, io);
  }
};
