/** The DMARC evaluation row for aggregate reports, from the message's results. Pure. */
import type { Disposition, DmarcEvaluation, OverrideReason, PublishedPolicy } from './evaluation-log.ts';
import type { MailauthResult } from './mailauth-result.ts';

const DISPOSITIONS = new Set(['none', 'quarantine', 'reject']);

function disposition(v: unknown): Disposition | undefined {
  return typeof v === 'string' && DISPOSITIONS.has(v.toLowerCase()) ? (v.toLowerCase() as Disposition) : undefined;
}

/** The record's tags as the report's <policy_published> wants them. */
export function publishedPolicy(domain: string, tags: Readonly<Record<string, unknown>>): PublishedPolicy | undefined {
  const p = disposition(tags['p']);
  if (!p) return undefined;
  const sp = disposition(tags['sp']);
  const np = disposition(tags['np']);
  const psd = tags['psd'];
  const ri = Number(tags['ri']);
  return {
    domain,
    p,
    ...(sp ? { sp } : {}),
    ...(np ? { np } : {}),
    adkim: tags['adkim'] === 's' ? 's' : 'r',
    aspf: tags['aspf'] === 's' ? 's' : 'r',
    testing: tags['t'] === 'y',
    ...(psd === 'y' || psd === 'n' || psd === 'u' ? { psd } : {}),
    ...(typeof tags['fo'] === 'string' ? { fo: tags['fo'] } : {}),
    rua: typeof tags['rua'] === 'string' ? tags['rua'].split(',').map((s) => s.trim()).filter(Boolean) : [],
    ri: Number.isFinite(ri) && ri > 0 ? ri : 86400,
  };
}

export interface EvaluationInput {
  readonly receivedAt: number;
  readonly queueId: string | undefined;
  readonly sourceIp: string;
  readonly sender: string;
  readonly helo: string;
  readonly firstRcpt: string | undefined;
  readonly result: MailauthResult;
  readonly dmarcResult: DmarcEvaluation['dmarcResult'];
  readonly disposition: Disposition;
  readonly override?: { readonly reason: OverrideReason; readonly comment?: string };
  readonly arcResult?: string;
}

const domainOf = (addr: string): string => (addr.includes('@') ? addr.slice(addr.lastIndexOf('@') + 1).toLowerCase() : '');

export function buildEvaluation(i: EvaluationInput): DmarcEvaluation | undefined {
  const d = i.result.dmarc;
  const headerFrom = d ? d.status.header?.from : undefined;
  if (!d || !headerFrom) return undefined;
  const spf = i.result.spf;
  const policy = d.policyDomain && d.record ? publishedPolicy(d.policyDomain, d.record) : undefined;
  return {
    receivedAt: i.receivedAt,
    ...(i.queueId ? { queueId: i.queueId } : {}),
    sourceIp: i.sourceIp,
    headerFrom: headerFrom.toLowerCase(),
    envelopeFrom: domainOf(i.sender),
    ...(i.firstRcpt ? { envelopeTo: domainOf(i.firstRcpt) } : {}),
    spf: {
      domain: (spf && spf.domain) || (i.sender ? domainOf(i.sender) : i.helo.toLowerCase()),
      scope: i.sender ? 'mfrom' : 'helo',
      result: spf ? spf.status.result : 'none',
    },
    dkim: (i.result.dkim.results ?? [])
      .filter((r) => r.signingDomain)
      .map((r) => ({ domain: r.signingDomain!.toLowerCase(), selector: r.selector ?? '', result: r.status.result, ...(r.status.comment ? { humanResult: r.status.comment } : {}) })),
    dmarcResult: i.dmarcResult,
    spfAligned: Boolean(d.alignment?.spf?.result),
    dkimAligned: Boolean(d.alignment?.dkim?.result) && i.dmarcResult === 'pass',
    ...(policy ? { policy } : {}),
    disposition: i.disposition,
    ...(i.override ? { overrideReason: i.override.reason, ...(i.override.comment ? { overrideComment: i.override.comment } : {}) } : {}),
    ...(i.arcResult ? { arcResult: i.arcResult } : {}),
  };
}
