/**
 * What happens to a message from the internet, given its DMARC result: pure and
 * table-driven. Each outcome carries the reason that lands in the log line and the
 * disposition the aggregate report states (RFC 9990 PolicyOverrideType for overrides).
 *
 * Order of precedence:
 *  1. no single usable author domain (`DmarcCheck.authorProblem`, permerror): the policy the
 *     engine set from `inbound.no_author_policy` (default reject) or, for several authors
 *     with `multiple_from: reject`, reject — letting such mail through would make an
 *     unparseable or doubled From a way around every p=reject (docs/inbound.md "Authors");
 *  2. (several authors with `multiple_from: strictest` arrive as the strictest author's check);
 *  3. DMARC pass / none / permerror (no usable record) → deliver;
 *  4. temperror → `on_temperror` (tempfail: 451, the sender retries; accept: deliver);
 *  5. fail → the policy to apply (p, sp or np, after t=y), lowered by a matching override
 *     (client network, author domain, or a trusted ARC sealer on a passing chain, RFC 8617
 *     §7.2) — an override is a ceiling: quarantine never turns into deliver by accident;
 *  6. `enforce: false` turns reject/quarantine/tempfail into a label (deliver).
 */
import type { ArcCheck, DmarcCheck, DmarcPolicy } from '../auth/results.ts';
import { isSubdomainOf } from '../mail/domain.ts';
import type { SmtpReply } from '../milter/filter.ts';
import type { NetworkSet } from './networks.ts';
import { REPLIES } from './replies.ts';

export type PolicyAction = 'deliver' | 'reject' | 'quarantine' | 'tempfail';
/** RFC 9990 / RFC 7489 PolicyOverrideType. */
export type OverrideReason = 'forwarded' | 'sampled_out' | 'trusted_forwarder' | 'mailing_list' | 'local_policy' | 'other';

export interface Override {
  /** Author (RFC5322.From) domains covered, subdomains included (normalized). */
  readonly domains: readonly string[];
  readonly networks: NetworkSet;
  /** The most this override lets a failing message get: delivered, or quarantined. */
  readonly action: 'none' | 'quarantine';
  readonly reason: OverrideReason;
  readonly comment?: string;
}

export interface DispositionPolicy {
  readonly enforce: boolean;
  readonly onTemperror: 'tempfail' | 'accept';
  readonly overrides: readonly Override[];
  /** ARC sealers (d= of ARC-Seal) whose passing chain lowers a DMARC fail (RFC 8617 §7.2). */
  readonly trustedArcSealers: readonly { readonly domain: string; readonly action: 'none' | 'quarantine' }[];
}

export interface DispositionInput {
  readonly dmarc: DmarcCheck;
  readonly clientIp: string | undefined;
  readonly arc: ArcCheck | undefined;
}

export interface Disposition {
  readonly action: PolicyAction;
  /** What the aggregate report calls the disposition applied. */
  readonly reported: DmarcPolicy;
  readonly reason: string;
  /** The SMTP reply for reject/tempfail. */
  readonly reply?: SmtpReply;
  readonly override?: { readonly reason: OverrideReason; readonly comment?: string };
}

const STRENGTH: Readonly<Record<DmarcPolicy, number>> = { none: 0, quarantine: 1, reject: 2 };
const weaker = (a: DmarcPolicy, b: DmarcPolicy): DmarcPolicy => (STRENGTH[a] <= STRENGTH[b] ? a : b);

function enforceOrLabel(d: Disposition, enforce: boolean): Disposition {
  if (enforce || d.action === 'deliver') return d;
  const { reply: _reply, ...rest } = d;
  return { ...rest, action: 'deliver', reported: 'none', reason: `${d.reason} (monitor only: enforce is off)` };
}

function applyPolicy(policy: DmarcPolicy, domain: string, reason: string, override?: Disposition['override']): Disposition {
  const o = override ? { override } : {};
  if (policy === 'reject') return { action: 'reject', reported: 'reject', reason, reply: REPLIES.dmarcReject(domain), ...o };
  if (policy === 'quarantine') return { action: 'quarantine', reported: 'quarantine', reason, ...o };
  return { action: 'deliver', reported: 'none', reason, ...o };
}

function matchingOverride(p: DispositionPolicy, i: DispositionInput, fromDomain: string | undefined): { action: 'none' | 'quarantine'; reason: OverrideReason; comment?: string } | undefined {
  for (const o of p.overrides) {
    const byDomain = fromDomain !== undefined && o.domains.some((d) => isSubdomainOf(fromDomain, d));
    if (byDomain || o.networks.covers(i.clientIp)) return { action: o.action, reason: o.reason, ...(o.comment ? { comment: o.comment } : {}) };
  }
  if (i.arc?.result === 'pass') {
    // The newest sealer vouches for what it received; only a sealer we trust counts.
    const newest = i.arc.sealers[i.arc.sealers.length - 1];
    const t = newest === undefined ? undefined : p.trustedArcSealers.find((s) => isSubdomainOf(newest, s.domain));
    if (t) return { action: t.action, reason: 'trusted_forwarder', comment: `ARC sealed by ${newest}` };
  }
  return undefined;
}

export function decideDisposition(i: DispositionInput, p: DispositionPolicy): Disposition {
  const { dmarc } = i;
  if (dmarc.authorProblem !== undefined) {
    const policy = dmarc.policy ?? 'reject';
    const reason = dmarc.reason;
    if (policy === 'none') return { action: 'deliver', reported: 'none', reason: `${reason}; accepted by configuration` };
    if (policy === 'quarantine') return enforceOrLabel({ action: 'quarantine', reported: 'quarantine', reason }, p.enforce);
    const reply = dmarc.authorProblem === 'several-authors' ? REPLIES.severalAuthors() : REPLIES.noAuthor(reason.replace(/^no usable author domain: /, ''));
    return enforceOrLabel({ action: 'reject', reported: 'reject', reason, reply }, p.enforce);
  }
  const domain = dmarc.policyDomain ?? dmarc.fromDomain ?? 'the author domain';
  switch (dmarc.result) {
    case 'pass':
      return { action: 'deliver', reported: 'none', reason: 'dmarc pass' };
    case 'none':
      return { action: 'deliver', reported: 'none', reason: 'no DMARC policy' };
    case 'permerror':
      return { action: 'deliver', reported: 'none', reason: `DMARC record unusable: ${dmarc.reason}` };
    case 'temperror':
      return p.onTemperror === 'tempfail'
        ? enforceOrLabel({ action: 'tempfail', reported: 'none', reason: `dmarc temperror: ${dmarc.reason}`, reply: REPLIES.dmarcTemperror(dmarc.fromDomain ?? domain) }, p.enforce)
        : { action: 'deliver', reported: 'none', reason: `dmarc temperror accepted by configuration: ${dmarc.reason}` };
    case 'fail': {
      const policy = dmarc.policy ?? 'none';
      if (policy === 'none') return { action: 'deliver', reported: 'none', reason: `dmarc fail, policy none${dmarc.requestedPolicy && dmarc.requestedPolicy !== 'none' ? ` (t=y: ${dmarc.requestedPolicy} requested)` : ''}` };
      const o = matchingOverride(p, i, dmarc.fromDomain);
      if (o) {
        const applied = weaker(policy, o.action);
        return enforceOrLabel(applyPolicy(applied, domain, `dmarc fail, policy ${policy} of ${domain} lowered to ${applied} (${o.reason}${o.comment ? `: ${o.comment}` : ''})`, { reason: o.reason, ...(o.comment ? { comment: o.comment } : {}) }), p.enforce);
      }
      return enforceOrLabel(applyPolicy(policy, domain, `dmarc fail, policy ${policy} of ${domain}`), p.enforce);
    }
  }
}
