/**
 * Pure: stored DMARC evaluations → aggregate reports, one per (policy domain, period)
 * (RFC 9990 §2.1, §3). Rows are grouped by everything the report's <record> shows: source
 * IP, disposition, aligned DKIM/SPF results, identifiers and the raw auth results.
 */
import type { DkimEvaluation, DmarcEvaluation, Disposition, OverrideReason, PublishedPolicy } from '../inbound/evaluation-log.ts';
import type { StoredEvaluation } from './evaluation-reader.ts';

export const DAY_MS = 86_400_000;

export interface ReportRecord {
  readonly sourceIp: string;
  readonly count: number;
  readonly disposition: Disposition;
  readonly dkimAligned: 'pass' | 'fail';
  readonly spfAligned: 'pass' | 'fail';
  readonly reasons: readonly { readonly type: OverrideReason | 'policy_test_mode'; readonly comment?: string }[];
  readonly headerFrom: string;
  readonly envelopeFrom: string;
  readonly envelopeTo?: string;
  readonly dkim: readonly DkimEvaluation[];
  readonly spf: DmarcEvaluation['spf'];
}

export interface AggregateReport {
  readonly policyDomain: string;
  /** ms, inclusive; `end` exclusive. */
  readonly begin: number;
  readonly end: number;
  /** The policy in force at the end of the period (the last evaluation's). */
  readonly policy: PublishedPolicy;
  readonly records: readonly ReportRecord[];
  readonly messageCount: number;
  readonly evaluationIds: readonly number[];
}

/**
 * The period length for a domain: our interval, or the domain's `ri` when it asks for
 * longer (RFC 9990 §3: receivers may honour ri; we never report more often than `interval`).
 * Rounded up to whole multiples of our interval so periods stay aligned.
 */
export function periodLength(ri: number, intervalMs: number): number {
  const asked = Number.isFinite(ri) && ri > 0 ? ri * 1000 : DAY_MS;
  return asked <= intervalMs ? intervalMs : Math.ceil(asked / intervalMs) * intervalMs;
}

/** [begin, end) of the period containing `t`, aligned to the epoch (UTC midnight for a day). */
export function periodOf(t: number, lengthMs: number): { begin: number; end: number } {
  const begin = Math.floor(t / lengthMs) * lengthMs;
  return { begin, end: begin + lengthMs };
}

/** Why a stored row cannot go into a report (a half-written or foreign row), or undefined. */
export function invalidEvaluation(ev: unknown): string | undefined {
  if (typeof ev !== 'object' || ev === null) return 'not an object';
  const e = ev as Partial<Record<keyof DmarcEvaluation, unknown>>;
  if (typeof e.receivedAt !== 'number' || !Number.isFinite(e.receivedAt)) return 'receivedAt missing';
  if (typeof e.sourceIp !== 'string' || !e.sourceIp) return 'sourceIp missing';
  if (typeof e.headerFrom !== 'string' || !e.headerFrom) return 'headerFrom missing';
  if (typeof e.envelopeFrom !== 'string') return 'envelopeFrom missing';
  const spf = e.spf as Partial<DmarcEvaluation['spf']> | undefined;
  if (!spf || typeof spf.result !== 'string' || typeof spf.domain !== 'string') return 'spf result missing';
  if (!Array.isArray(e.dkim)) return 'dkim results missing';
  if (!['none', 'quarantine', 'reject'].includes(e.disposition as string)) return `bad disposition ${JSON.stringify(e.disposition)}`;
  const p = e.policy as Partial<PublishedPolicy> | undefined;
  if (!p || typeof p.domain !== 'string' || !p.domain || !['none', 'quarantine', 'reject'].includes(p.p as string)) return 'policy missing or incomplete';
  if (!Array.isArray(p.rua)) return 'policy rua missing';
  return undefined;
}

function recordKey(ev: DmarcEvaluation): string {
  return JSON.stringify([
    ev.sourceIp,
    ev.disposition,
    ev.dkimAligned,
    ev.spfAligned,
    ev.overrideReason ?? null,
    ev.overrideComment ?? null,
    ev.policy?.testing ?? false,
    ev.headerFrom.toLowerCase(),
    ev.envelopeFrom.toLowerCase(),
    ev.envelopeTo?.toLowerCase() ?? null,
    ev.dkim.map((d) => [d.domain.toLowerCase(), d.selector, d.result]),
    [ev.spf.domain.toLowerCase(), ev.spf.scope, ev.spf.result],
  ]);
}

function reasonsOf(ev: DmarcEvaluation): ReportRecord['reasons'] {
  const out: { type: OverrideReason | 'policy_test_mode'; comment?: string }[] = [];
  if (ev.overrideReason) out.push(ev.overrideComment ? { type: ev.overrideReason, comment: ev.overrideComment } : { type: ev.overrideReason });
  // RFC 9990: a policy not applied because of t=y is reported as policy_test_mode.
  if (ev.policy?.testing && ev.dmarcResult !== 'pass' && ev.disposition !== ev.policy.p && !ev.overrideReason) out.push({ type: 'policy_test_mode' });
  return out;
}

export interface BuildInput {
  readonly rows: readonly StoredEvaluation[];
  readonly intervalMs: number;
  readonly now: number;
  /** Per policy domain: reports already cover everything before this (ms). */
  readonly reportedUntil: ReadonlyMap<string, number>;
}

export interface BuildOutput {
  readonly reports: AggregateReport[];
  readonly skipped: { readonly id: number; readonly reason: string }[];
}

/** One report over `rows` (one policy domain, sorted by receipt) for [begin, end). */
function aggregate(policyDomain: string, begin: number, end: number, prow: readonly StoredEvaluation[]): AggregateReport {
  const groups = new Map<string, { ev: DmarcEvaluation; count: number }>();
  for (const { evaluation: ev } of prow) {
    const k = recordKey(ev);
    const g = groups.get(k);
    if (g) g.count++;
    else groups.set(k, { ev, count: 1 });
  }
  const records: ReportRecord[] = [...groups.values()].map(({ ev, count }) => ({
    sourceIp: ev.sourceIp,
    count,
    disposition: ev.disposition,
    dkimAligned: ev.dkimAligned ? 'pass' : 'fail',
    spfAligned: ev.spfAligned ? 'pass' : 'fail',
    reasons: reasonsOf(ev),
    headerFrom: ev.headerFrom.toLowerCase(),
    envelopeFrom: ev.envelopeFrom.toLowerCase(),
    ...(ev.envelopeTo ? { envelopeTo: ev.envelopeTo.toLowerCase() } : {}),
    dkim: ev.dkim,
    spf: ev.spf,
  }));
  return { policyDomain, begin, end, policy: prow[prow.length - 1]!.evaluation.policy!, records, messageCount: prow.length, evaluationIds: prow.map((r) => r.id) };
}

/** Valid rows by policy domain (sorted by receipt), and the rows skipped with the reason. */
function byPolicyDomain(rows: readonly StoredEvaluation[]): { byDomain: Map<string, StoredEvaluation[]>; skipped: { id: number; reason: string }[] } {
  const skipped: { id: number; reason: string }[] = [];
  const byDomain = new Map<string, StoredEvaluation[]>();
  for (const row of rows) {
    const why = invalidEvaluation(row.evaluation);
    if (why) {
      skipped.push({ id: row.id, reason: why });
      continue;
    }
    const d = row.evaluation.policy!.domain.toLowerCase();
    const list = byDomain.get(d) ?? [];
    list.push(row);
    byDomain.set(d, list);
  }
  for (const list of byDomain.values()) list.sort((a, b) => a.evaluation.receivedAt - b.evaluation.receivedAt || a.id - b.id);
  return { byDomain: new Map([...byDomain].sort(([a], [b]) => a.localeCompare(b))), skipped };
}

/**
 * On-demand reports (`report send --now` / `--period`): one per policy domain over a window
 * that need not be a period, or not have ended. `window(domain, rows)` gives it: a fixed
 * [begin, end), or the domain's period in progress up to now. Rows outside are left out.
 */
export function buildWindowReports(rows: readonly StoredEvaluation[], window: (policy: PublishedPolicy) => { begin: number; end: number }): BuildOutput {
  const { byDomain, skipped } = byPolicyDomain(rows);
  const reports: AggregateReport[] = [];
  for (const [policyDomain, list] of byDomain) {
    const { begin, end } = window(list[list.length - 1]!.evaluation.policy!);
    const inside = list.filter((r) => r.evaluation.receivedAt >= begin && r.evaluation.receivedAt < end);
    if (inside.length) reports.push(aggregate(policyDomain, begin, end, inside));
  }
  return { reports, skipped };
}

/**
 * Groups evaluations into reports for periods that have ended (`end <= now`) and start at or
 * after what is already reported for the domain. Evaluations of an unfinished period wait.
 */
export function buildReports(input: BuildInput): BuildOutput {
  const { byDomain, skipped } = byPolicyDomain(input.rows);
  const reports: AggregateReport[] = [];
  for (const [policyDomain, rows] of byDomain) {
    const latest = rows[rows.length - 1]!.evaluation.policy!;
    const length = periodLength(latest.ri, input.intervalMs);
    const from = input.reportedUntil.get(policyDomain) ?? -Infinity;
    const periods = new Map<number, StoredEvaluation[]>();
    for (const row of rows) {
      const t = row.evaluation.receivedAt;
      if (t < from) continue; // already reported (e.g. a late row in a closed period)
      const { begin, end } = periodOf(t, length);
      if (end > input.now) continue;
      // A period that starts before `from` (ri changed) is clipped to start at `from`.
      const key = Math.max(begin, from);
      const list = periods.get(key) ?? [];
      list.push(row);
      periods.set(key, list);
    }
    for (const [begin, prow] of [...periods].sort(([a], [b]) => a - b)) {
      const end = periodOf(prow[0]!.evaluation.receivedAt, length).end;
      reports.push(aggregate(policyDomain, begin, end, prow));
    }
  }
  return { reports, skipped };
}
