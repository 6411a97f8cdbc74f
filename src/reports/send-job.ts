/**
 * One run of the report job (`mailanchor report send`, daily from the systemd timer):
 *   1. generate reports for every (policy domain, period) that has ended and is not in the
 *      ledger yet, each with one pending delivery per usable rua URI;
 *   2. deliver every pending delivery: suppression list, external destination check
 *      (RFC 9990 §6), size limits, then the MTA; "sent" only after the MTA accepted;
 *   3. prune old evaluations and settled reports.
 * Time, DNS and the MTA are injected. With `dryRun` nothing is stored, sent or pruned.
 */
import { gunzipSync } from 'node:zlib';
import type { DnsLookup } from '../dns/types.ts';
import { buildReports, type AggregateReport } from './aggregate.ts';
import type { ReportsConfig } from './config.ts';
import { parseRua, suppressedBy, verifyDestination, type Destination } from './destinations.ts';
import { ReportError } from './errors.ts';
import type { EvaluationReader } from './evaluation-reader.ts';
import type { DeliveryState, ReportLedger, StoredReport } from './ledger.ts';
import { buildReportMessage, gzipXml, newUniqueId, reportFileName, reportIdOf, type ReportIdentity } from './message.ts';
import type { MailTransport } from './transport.ts';
import { renderReportXml } from './xml.ts';

export const GENERATOR = 'mailanchor 0.1.0';
/** How long a claimed delivery is reserved for the run that claimed it. */
const LEASE_MS = 10 * 60_000;

export type SendEvent =
  | { readonly kind: 'bad-row'; readonly id: number; readonly reason: string }
  | { readonly kind: 'generated'; readonly reportId: string; readonly policyDomain: string; readonly begin: number; readonly end: number; readonly messages: number; readonly records: number; readonly destinations: readonly string[] }
  | { readonly kind: 'sent'; readonly reportId: string; readonly address: string; readonly detail: string }
  | { readonly kind: 'would-send'; readonly reportId: string; readonly address: string; readonly detail: string }
  | { readonly kind: 'skipped'; readonly reportId: string; readonly address: string; readonly reason: string }
  | { readonly kind: 'deferred'; readonly reportId: string; readonly address: string; readonly reason: string }
  | { readonly kind: 'claimed-elsewhere'; readonly reportId: string; readonly address: string }
  | { readonly kind: 'suppressed-now'; readonly address: string; readonly reason: string }
  | { readonly kind: 'pruned'; readonly evaluations: number; readonly reports: number };

export interface SendJobDeps {
  /** Every host's evaluations (a shared store) or this host's (SQLite). */
  readonly evaluations: EvaluationReader;
  readonly ledger: ReportLedger;
  readonly config: ReportsConfig;
  readonly dns: DnsLookup;
  readonly transport: MailTransport;
  readonly now: () => number;
  readonly dryRun?: boolean;
}

interface PlannedReport {
  readonly stored: StoredReport;
  readonly gz: Buffer;
  readonly deliveries: { address: string; uri: string; state: DeliveryState; reason?: string }[];
}

function identityOf(r: StoredReport): ReportIdentity {
  const at = r.reportId.lastIndexOf('@');
  // endAt is the exclusive period end (the per-domain cursor); the report names the last second.
  return { policyDomain: r.policyDomain, submitter: r.reportId.slice(at + 1), begin: r.beginAt, end: r.endAt - 1, uniqueId: r.reportId.slice(0, at) };
}

function plan(report: AggregateReport, config: ReportsConfig): PlannedReport {
  const uniqueId = newUniqueId();
  const identity: ReportIdentity = {
    policyDomain: report.policyDomain,
    submitter: config.submitter,
    begin: Math.floor(report.begin / 1000),
    // The file name and <date_range> carry the same end (the last second covered).
    end: Math.floor(report.end / 1000) - 1,
    uniqueId,
  };
  const reportId = reportIdOf(identity);
  const xml = renderReportXml(report, { orgName: config.org_name, email: config.email, extraContactInfo: config.extra_contact_info, reportId, generator: GENERATOR });
  const deliveries: PlannedReport['deliveries'] = [];
  const seen = new Set<string>();
  for (const uri of report.policy.rua) {
    const d = parseRua(uri);
    const address = typeof d === 'string' ? uri.trim() : d.address;
    if (seen.has(address.toLowerCase())) continue;
    seen.add(address.toLowerCase());
    if (typeof d === 'string') deliveries.push({ address, uri, state: 'skipped', reason: d });
    else deliveries.push({ address: d.address, uri: d.uri, state: 'pending' });
  }
  return {
    stored: {
      reportId,
      policyDomain: report.policyDomain,
      beginAt: identity.begin,
      endAt: Math.floor(report.end / 1000),
      createdAt: 0,
      fileName: reportFileName(identity),
      messageCount: report.messageCount,
      recordCount: report.records.length,
    },
    gz: gzipXml(xml),
    deliveries,
  };
}

/** Step 1. Returns the events and, in dry-run mode, the planned (unsaved) reports. */
export async function generateReports(deps: SendJobDeps): Promise<{ events: SendEvent[]; planned: PlannedReport[] }> {
  const { ledger, config } = deps;
  const now = deps.now();
  const { rows, bad } = await deps.evaluations.list({ from: 0, to: now });
  // A period is closed only `settle` after its end: evaluations another host still holds in
  // its writer queue (a short store outage) get in before the report is built.
  const built = buildReports({ rows, intervalMs: config.interval, now: now - config.settle, reportedUntil: await ledger.reportedUntil() });
  const events: SendEvent[] = [...bad, ...built.skipped].map((b) => ({ kind: 'bad-row', id: b.id, reason: b.reason }) as const);
  const planned: PlannedReport[] = [];
  for (const report of built.reports) {
    const p = plan(report, config);
    if (!deps.dryRun && !(await ledger.insertReport({ ...p.stored, xmlGz: p.gz, deliveries: p.deliveries }, now))) continue; // a concurrent run (any host) made it
    planned.push(p);
    events.push({
      kind: 'generated',
      reportId: p.stored.reportId,
      policyDomain: p.stored.policyDomain,
      begin: p.stored.beginAt,
      end: p.stored.endAt,
      messages: p.stored.messageCount,
      records: p.stored.recordCount,
      destinations: p.deliveries.map((d) => d.address),
    });
    for (const d of p.deliveries) if (d.state === 'skipped') events.push({ kind: 'skipped', reportId: p.stored.reportId, address: d.address, reason: d.reason ?? '' });
  }
  return { events, planned };
}

/** Why this destination gets nothing now: skipped for good, deferred, or undefined (send). */
async function check(
  deps: SendJobDeps,
  report: StoredReport,
  dest: Destination,
  size: number,
  suppressions: readonly string[],
): Promise<{ kind: 'skip'; reason: string } | { kind: 'defer'; reason: string } | { kind: 'ok'; to: string; note: string }> {
  const hit = suppressedBy(dest.address, suppressions);
  if (hit) return { kind: 'skip', reason: `suppressed (${hit})` };
  const v = await verifyDestination(deps.dns, report.policyDomain, dest);
  if (v.kind === 'refused') return { kind: 'skip', reason: v.reason };
  if (v.kind === 'temporary') return { kind: 'defer', reason: `cannot verify external destination now: ${v.reason}` };
  let to = dest.address;
  let maxSize = dest.maxSize;
  let note = v.kind === 'internal' ? 'same domain' : `authorised by ${v.name}`;
  if (v.kind === 'authorized' && v.override && v.override.length > 0) {
    const o = parseRua(v.override[0]!);
    if (typeof o !== 'string') {
      to = o.address;
      maxSize = o.maxSize;
      note += `, redirected to ${o.address}`;
    }
  }
  if (size > deps.config.max_message_size) return { kind: 'skip', reason: `report message is ${size} bytes, above reports.max_message_size ${deps.config.max_message_size}` };
  if (maxSize !== undefined && size > maxSize) return { kind: 'skip', reason: `report message is ${size} bytes, above the destination's limit of ${maxSize} (${dest.uri})` };
  return { kind: 'ok', to, note };
}

/** Step 2 for stored reports (or the planned ones in dry-run mode). */
export async function deliverReports(deps: SendJobDeps, planned: readonly PlannedReport[] = []): Promise<SendEvent[]> {
  const { ledger, config } = deps;
  const events: SendEvent[] = [];
  const suppressions = [...config.suppress, ...(await ledger.listSuppressions()).map((s) => s.entry)];
  const reports = new Map((await ledger.listReports()).map((r) => [r.reportId, r]));
  const work: { report: StoredReport; gz: () => Promise<Buffer | undefined>; address: string; uri: string }[] = (await ledger.listDeliveries({ state: 'pending' })).flatMap((d) => {
    const report = reports.get(d.reportId);
    return report ? [{ report, gz: () => ledger.reportXmlGz(d.reportId), address: d.address, uri: d.uri }] : [];
  });
  if (deps.dryRun) for (const p of planned) for (const d of p.deliveries) if (d.state === 'pending') work.push({ report: p.stored, gz: async () => p.gz, address: d.address, uri: d.uri });

  for (const w of work) {
    const rid = w.report.reportId;
    const dest = parseRua(w.uri);
    if (typeof dest === 'string') {
      if (!deps.dryRun) await ledger.markSkipped(rid, w.address, deps.now(), dest);
      events.push({ kind: 'skipped', reportId: rid, address: w.address, reason: dest });
      continue;
    }
    const gz = await w.gz();
    if (!gz) continue;
    // Refuse to send anything that would not decompress: a damaged blob is kept, not sent.
    try {
      gunzipSync(gz, { maxOutputLength: 512 * 1024 * 1024 });
    } catch (err) {
      events.push({ kind: 'deferred', reportId: rid, address: w.address, reason: `stored report is damaged: ${(err as Error).message}` });
      continue;
    }
    const identity = identityOf(w.report);
    const message = (to: string) => buildReportMessage({ identity, from: config.email, to: [to], gz, now: deps.now(), orgName: config.org_name });
    const size = message(dest.address).length;
    const verdict = await check(deps, w.report, dest, size, suppressions);
    if (verdict.kind === 'skip') {
      if (!deps.dryRun) await ledger.markSkipped(rid, w.address, deps.now(), verdict.reason);
      events.push({ kind: 'skipped', reportId: rid, address: w.address, reason: verdict.reason });
      continue;
    }
    if (verdict.kind === 'defer') {
      if (!deps.dryRun) await ledger.markFailed(rid, w.address, deps.now(), verdict.reason);
      events.push({ kind: 'deferred', reportId: rid, address: w.address, reason: verdict.reason });
      continue;
    }
    if (deps.dryRun) {
      events.push({ kind: 'would-send', reportId: rid, address: verdict.to, detail: `${size} bytes via ${deps.transport.describe} (${verdict.note})` });
      continue;
    }
    if (!(await ledger.claimDelivery(rid, w.address, deps.now(), LEASE_MS))) {
      events.push({ kind: 'claimed-elsewhere', reportId: rid, address: w.address }); // another run (any host) has it
      continue;
    }
    try {
      const accepted = await deps.transport.send({ from: config.email, to: verdict.to, data: message(verdict.to) });
      const detail = `${accepted} (${verdict.note})`;
      await ledger.markSent(rid, w.address, deps.now(), detail);
      events.push({ kind: 'sent', reportId: rid, address: verdict.to, detail });
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      await ledger.markFailed(rid, w.address, deps.now(), reason);
      events.push({ kind: 'deferred', reportId: rid, address: w.address, reason });
      if (err instanceof ReportError && err.code === 'DELIVERY_PERMANENT') {
        const n = await ledger.recordBounce(w.address, deps.now(), reason);
        if (n >= config.bounce_limit) {
          await ledger.addSuppression(w.address, `rejected ${n} times; last: ${reason}`, deps.now());
          suppressions.push(w.address);
          await ledger.markSkipped(rid, w.address, deps.now(), `suppressed after ${n} rejections: ${reason}`);
          events.push({ kind: 'suppressed-now', address: w.address, reason });
        }
      } else if (!(err instanceof ReportError)) {
        throw err;
      }
    }
  }
  return events;
}

/** The whole run. */
export async function runSendJob(deps: SendJobDeps): Promise<SendEvent[]> {
  const events: SendEvent[] = [];
  if (deps.config.enabled) {
    const generated = await generateReports(deps);
    events.push(...generated.events, ...(await deliverReports(deps, generated.planned)));
  }
  // Pruning runs even with reports disabled, so the evaluation log stays bounded.
  if (!deps.dryRun) {
    const now = deps.now();
    const evaluations = await deps.evaluations.prune(now - deps.config.keep_evaluations);
    // Reports are the per-domain cursor; keep them at least as long as evaluations (+ a
    // period) so a pruned report can never let its evaluations be reported again.
    const keep = Math.max(deps.config.keep_reports, deps.config.keep_evaluations + 8 * 86_400_000);
    const reports = await deps.ledger.pruneReports(now - keep);
    if (evaluations || reports) events.push({ kind: 'pruned', evaluations, reports });
  }
  return events;
}
