/**
 * The DMARC evaluation row for aggregate reports (RFC 9990 <record>), from the engine's typed
 * verdicts and the disposition applied. Pure. A message whose DMARC evaluation found no policy
 * record has nothing to report to; it is still recorded (no `policy`) so `report show` can
 * count it, and the report builder skips it.
 */
import type { DmarcRecord } from '../auth/results.ts';
import type { MessageResult } from '../auth/session.ts';
import type { Disposition as PolicyDisposition } from '../policy/disposition.ts';
import type { DmarcEvaluation, PublishedPolicy } from './evaluation-log.ts';

/** The record as the report's <policy_published> states it (RFC 9990 §2.1 PolicyPublishedType). */
export function publishedPolicy(domain: string, r: DmarcRecord): PublishedPolicy | undefined {
  if (!r.p) return undefined;
  return {
    domain,
    p: r.p,
    ...(r.sp ? { sp: r.sp } : {}),
    ...(r.np ? { np: r.np } : {}),
    adkim: r.adkim,
    aspf: r.aspf,
    testing: r.testing,
    psd: r.psd,
    ...(r.fo ? { fo: r.fo } : {}),
    rua: r.rua,
    // `ri` is gone in RFC 9989; reports go out daily (RFC 9990 §2: at least once per 24 h).
    ri: 86_400,
  };
}

export interface EvaluationInput {
  readonly receivedAt: number;
  readonly queueId: string | undefined;
  readonly sourceIp: string;
  readonly sender: string;
  readonly helo: string;
  readonly firstRcpt: string | undefined;
  readonly result: MessageResult;
  readonly disposition: PolicyDisposition;
}

const domainOf = (addr: string): string => (addr.includes('@') ? addr.slice(addr.lastIndexOf('@') + 1).toLowerCase() : '');

export function buildEvaluation(i: EvaluationInput): DmarcEvaluation | undefined {
  const d = i.result.dmarc;
  if (!d.fromDomain) return undefined; // no author domain: no policy domain to report to
  const spf = i.result.spf;
  const policy = d.policyDomain && d.record ? publishedPolicy(d.policyDomain, d.record) : undefined;
  const disposition = i.disposition;
  return {
    receivedAt: i.receivedAt,
    ...(i.queueId ? { queueId: i.queueId } : {}),
    sourceIp: i.sourceIp,
    headerFrom: d.fromDomain,
    envelopeFrom: domainOf(i.sender),
    ...(i.firstRcpt ? { envelopeTo: domainOf(i.firstRcpt) } : {}),
    spf: {
      domain: spf?.domain ?? (i.sender ? domainOf(i.sender) : i.helo.toLowerCase()),
      scope: spf?.scope ?? (i.sender ? 'mfrom' : 'helo'),
      result: spf?.result ?? 'none',
    },
    dkim: i.result.dkim
      .filter((c) => c.domain)
      .map((c) => ({ domain: c.domain!, selector: c.selector ?? '', result: c.result, ...(c.result === 'pass' ? {} : { humanResult: c.reason }) })),
    dmarcResult: d.result,
    spfAligned: d.aligned.spf,
    dkimAligned: d.aligned.dkim.length > 0,
    ...(policy ? { policy } : {}),
    disposition: disposition.reported,
    ...(disposition.override ? { overrideReason: disposition.override.reason, ...(disposition.override.comment ? { overrideComment: disposition.override.comment } : {}) } : {}),
    ...(i.result.arc ? { arcResult: i.result.arc.result } : {}),
  };
}
