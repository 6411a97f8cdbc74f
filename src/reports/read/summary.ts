/**
 * Pure: parsed reports → what a postmaster acts on. Per reporting organisation and per
 * source IP: messages, SPF/DKIM alignment and DMARC pass rates; the sources that fail
 * DMARC, worst first; TLS-RPT session counts and failure types.
 */
import type { ReceivedAggregate } from './parse-aggregate.ts';
import type { ReceivedTlsReport } from './parse-tlsrpt.ts';

export interface Rates {
  readonly messages: number;
  readonly spfPass: number;
  readonly dkimPass: number;
  readonly dmarcPass: number;
}

export interface OrgSummary extends Rates {
  readonly orgName: string;
  readonly reports: number;
}

export interface SourceSummary extends Rates {
  readonly sourceIp: string;
  readonly headerFrom: readonly string[];
  readonly orgs: readonly string[];
  /** Messages that failed DMARC, by disposition applied. */
  readonly dispositions: Readonly<Record<string, number>>;
}

export interface TlsSummary {
  readonly orgName: string;
  readonly policyDomain: string;
  readonly policyType: string;
  readonly successful: number;
  readonly failed: number;
  readonly failureTypes: Readonly<Record<string, number>>;
}

export interface Summary {
  readonly reports: number;
  readonly domains: readonly string[];
  readonly period: { readonly begin: number; readonly end: number } | undefined;
  readonly total: Rates;
  readonly orgs: readonly OrgSummary[];
  readonly sources: readonly SourceSummary[];
  /** Sources with DMARC failures, most failed messages first. */
  readonly failing: readonly (SourceSummary & { readonly failed: number })[];
  readonly tls: readonly TlsSummary[];
}

interface Acc {
  messages: number;
  spfPass: number;
  dkimPass: number;
  dmarcPass: number;
}
const acc = (): Acc => ({ messages: 0, spfPass: 0, dkimPass: 0, dmarcPass: 0 });

export function summarize(dmarc: readonly ReceivedAggregate[], tls: readonly ReceivedTlsReport[]): Summary {
  const total = acc();
  const orgs = new Map<string, Acc & { reports: number }>();
  const sources = new Map<string, Acc & { headerFrom: Set<string>; orgs: Set<string>; dispositions: Record<string, number> }>();
  const domains = new Set<string>();
  let begin = Infinity;
  let end = -Infinity;
  for (const r of dmarc) {
    domains.add(r.policyDomain);
    begin = Math.min(begin, r.begin);
    end = Math.max(end, r.end);
    const o = orgs.get(r.orgName) ?? { ...acc(), reports: 0 };
    o.reports++;
    orgs.set(r.orgName, o);
    for (const row of r.rows) {
      const s = sources.get(row.sourceIp) ?? { ...acc(), headerFrom: new Set(), orgs: new Set(), dispositions: {} };
      s.orgs.add(r.orgName);
      if (row.headerFrom) s.headerFrom.add(row.headerFrom);
      const pass = row.dkimAligned || row.spfAligned;
      if (!pass) s.dispositions[row.disposition] = (s.dispositions[row.disposition] ?? 0) + row.count;
      for (const a of [total, o, s]) {
        a.messages += row.count;
        if (row.spfAligned) a.spfPass += row.count;
        if (row.dkimAligned) a.dkimPass += row.count;
        if (pass) a.dmarcPass += row.count;
      }
      sources.set(row.sourceIp, s);
    }
  }
  const rates = (a: Acc): Rates => ({ messages: a.messages, spfPass: a.spfPass, dkimPass: a.dkimPass, dmarcPass: a.dmarcPass });
  const sourceList: SourceSummary[] = [...sources]
    .map(([ip, s]) => ({ sourceIp: ip, ...rates(s), headerFrom: [...s.headerFrom].sort(), orgs: [...s.orgs].sort(), dispositions: s.dispositions }))
    .sort((a, b) => b.messages - a.messages || a.sourceIp.localeCompare(b.sourceIp));
  const tlsList: TlsSummary[] = [];
  for (const r of tls) {
    for (const p of r.policies) {
      const failureTypes: Record<string, number> = {};
      for (const f of p.failures) failureTypes[f.resultType] = (failureTypes[f.resultType] ?? 0) + f.count;
      tlsList.push({ orgName: r.orgName, policyDomain: p.policyDomain, policyType: p.policyType, successful: p.successful, failed: p.failed, failureTypes });
    }
  }
  return {
    reports: dmarc.length + tls.length,
    domains: [...domains].sort(),
    period: Number.isFinite(begin) ? { begin, end } : undefined,
    total: rates(total),
    orgs: [...orgs].map(([orgName, o]) => ({ orgName, reports: o.reports, ...rates(o) })).sort((a, b) => b.messages - a.messages || a.orgName.localeCompare(b.orgName)),
    sources: sourceList,
    failing: sourceList
      .map((s) => ({ ...s, failed: s.messages - s.dmarcPass }))
      .filter((s) => s.failed > 0)
      .sort((a, b) => b.failed - a.failed || a.sourceIp.localeCompare(b.sourceIp)),
    tls: tlsList,
  };
}

export function pct(part: number, whole: number): string {
  return whole === 0 ? '-' : `${((100 * part) / whole).toFixed(1)}%`;
}
