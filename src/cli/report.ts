/**
 * `mailanchor report send [--dry-run]` — generate due DMARC aggregate reports and hand them
 *     to the MTA (what went where, what was skipped and why);
 * `mailanchor report show` — reports, deliveries, suppressions, bounces and evaluations stored;
 * `mailanchor report suppress|unsuppress ADDRESS|DOMAIN` — the suppression list;
 * `mailanchor report read FILE|DIR|MAILDIR… [--html OUT.html]` — summarise received reports.
 */
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load.ts';
import type { Config } from '../config/sections.ts';
import { parseDnsServer, resolverOptions } from '../dns/config.ts';
import { createResolver } from '../dns/resolver.ts';
import { describeError } from '../errors.ts';
import { readReports } from '../reports/read/read-reports.ts';
import { renderHtml } from '../reports/read/render-html.ts';
import { renderText } from '../reports/read/render-text.ts';
import { runSendJob, type SendEvent } from '../reports/send-job.ts';
import { smtpTransport } from '../reports/smtp-client.ts';
import { sendmailTransport, type MailTransport } from '../reports/transport.ts';
import type { Store } from '../store/store.ts';
import type { CliCommand, CliIo } from './io.ts';
import { openCommandStore } from './open-store.ts';

const USAGE = `usage: mailanchor report <subcommand> [--config FILE] [--store FILE|postgresql://USER@HOST:PORT/DB]
  send [--dry-run] [--dns HOST[:PORT]]    generate due reports and send them (dry run: show what would go where)
  show                                    reports, deliveries, suppressions and bounces in the store
  suppress ADDRESS|DOMAIN                 never send reports there
  unsuppress ADDRESS|DOMAIN               remove from the suppression list (and forget its bounces)
  read FILE|DIR|MAILDIR… [--html OUT]     summarise received DMARC (XML, .gz, .zip, mail) and TLS-RPT reports
`;

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
      return `report ${e.reportId} for ${e.policyDomain} ${iso(e.begin)}..${iso(e.end)}: ${e.messages} message(s), ${e.records} record(s) → ${e.destinations.join(', ') || '(no rua)'}`;
    case 'sent':
      return `sent ${e.reportId} to ${e.address}: ${e.detail}`;
    case 'would-send':
      return `would send ${e.reportId} to ${e.address}: ${e.detail}`;
    case 'skipped':
      return `not sending ${e.reportId} to ${e.address}: ${e.reason}`;
    case 'deferred':
      return `deferred ${e.reportId} to ${e.address} (retried next run): ${e.reason}`;
    case 'claimed-elsewhere':
      return `left ${e.reportId} to ${e.address} to another run (it holds the claim)`;
    case 'suppressed-now':
      return `suppressed ${e.address} from now on: ${e.reason}`;
    case 'pruned':
      return `pruned ${e.evaluations} evaluation(s) and ${e.reports} report(s)`;
  }
}

type OpenStore = () => Promise<Store>;

async function send(args: readonly string[], io: CliIo, config: Config, open: OpenStore): Promise<number> {
  const { values } = parseArgs({ args: [...args], options: { 'dry-run': { type: 'boolean', default: false }, dns: { type: 'string' } }, allowPositionals: false });
  const store = await open();
  try {
    const dns = createResolver(resolverOptions(config.dns, values.dns ? { servers: [parseDnsServer(values.dns)] } : {}));
    const dryRun = values['dry-run'] === true;
    const events = await runSendJob({ evaluations: store.evaluations, ledger: store.ledger, config: config.reports, dns, transport: transportFor(config), now: Date.now, dryRun });
    if (!config.reports.enabled) io.stdout.write('reports.enabled is false: nothing to do\n');
    if (events.length === 0) io.stdout.write('nothing to report\n');
    for (const e of events) io.stdout.write(`${dryRun ? '[dry run] ' : ''}${formatEvent(e)}\n`);
    return events.some((e) => e.kind === 'deferred') ? 75 : 0; // EX_TEMPFAIL: the timer retries
  } finally {
    await store.close();
  }
}

async function show(io: CliIo, config: Config, open: OpenStore): Promise<number> {
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
    return 0;
  } finally {
    await store.close();
  }
}

async function suppress(args: readonly string[], io: CliIo, open: OpenStore, add: boolean): Promise<number> {
  const { positionals } = parseArgs({ args: [...args], options: {}, allowPositionals: true });
  if (positionals.length !== 1 || !positionals[0]) {
    io.stderr.write(USAGE);
    return 64;
  }
  const store = await open();
  try {
    if (add) await store.ledger.addSuppression(positionals[0], 'added by hand', Date.now());
    else if (!(await store.ledger.removeSuppression(positionals[0]))) io.stdout.write(`${positionals[0]} was not suppressed\n`);
    return 0;
  } finally {
    await store.close();
  }
}

async function read(args: readonly string[], io: CliIo, config: Config): Promise<number> {
  const { values, positionals } = parseArgs({ args: [...args], options: { html: { type: 'string' } }, allowPositionals: true });
  if (positionals.length === 0) {
    io.stderr.write(USAGE);
    return 64;
  }
  const limits = config.reports.read;
  const result = await readReports(
    positionals.map((p) => resolve(io.cwd, p)),
    { maxFileSize: limits.max_file_size, maxUncompressedSize: limits.max_uncompressed_size, maxZipEntries: limits.max_zip_entries },
    config.reports.domains,
  );
  io.stdout.write(renderText(result.summary, result.skipped));
  if (values.html) {
    const out = resolve(io.cwd, values.html);
    await writeFile(out, renderHtml(result.summary, result.skipped, Date.now()));
    io.stdout.write(`HTML summary written to ${out}\n`);
  }
  // 0 when something was read; 65 (EX_DATAERR) when every input was unusable.
  return result.summary.reports > 0 || result.skipped.length === 0 ? 0 : 65;
}

/** Takes `--NAME VALUE` / `--NAME=VALUE` out of argv (the options every subcommand shares). */
function takeOption(argv: readonly string[], name: string): { value: string | undefined; rest: string[] } {
  const rest: string[] = [];
  let value: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === `--${name}`) value = argv[++i];
    else if (a.startsWith(`--${name}=`)) value = a.slice(name.length + 3);
    else rest.push(a);
  }
  return { value, rest };
}

export const run: CliCommand = async (argv, io) => {
  const { value: configFile, rest: afterConfig } = takeOption(argv, 'config');
  const { value: storeUrl, rest } = takeOption(afterConfig, 'store');
  const [sub, ...args] = rest;
  if (!sub || sub === '--help' || sub === 'help') {
    io.stdout.write(USAGE);
    return sub ? 0 : 64;
  }
  try {
    const { config } = await loadConfig(configFile);
    const open: OpenStore = () => openCommandStore(config, storeUrl, io.cwd);
    switch (sub) {
      case 'send':
        return await send(args, io, config, open);
      case 'show':
        return await show(io, config, open);
      case 'suppress':
      case 'unsuppress':
        return await suppress(args, io, open, sub === 'suppress');
      case 'read':
        return await read(args, io, config);
      default:
        io.stderr.write(`mailanchor report: unknown subcommand "${sub}"\n${USAGE}`);
        return 64;
    }
  } catch (err) {
    const d = describeError(err);
    io.stderr.write(`mailanchor report ${sub}: ${d.message}\n`);
    return d.code === 'INVALID' || d.code === 'SYNTAX' ? 78 : 1;
  }
};
