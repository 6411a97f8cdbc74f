/**
 * What to do with a message given its DMARC outcome: pure, table-driven. The order of
 * precedence, each step with the reason that lands in the log line and the aggregate report:
 * trusted/authenticated client → never rejected; several authors → configured action;
 * DMARC pass/none/permerror → deliver; temperror → configured; fail → override for the
 * client network or author domain, else the published policy (mailauth has already applied
 * `t=y`, RFC 9989 §4.7); `enforce: false` turns every action into a label.
 */
import { BlockList, isIP } from 'node:net';
import type { Disposition, OverrideReason } from './evaluation-log.ts';
import type { InboundConfig, InboundOverride } from './config.ts';

export type PolicyAction = 'deliver' | 'reject' | 'quarantine' | 'tempfail';

export interface DmarcOutcome {
  readonly result: 'pass' | 'fail' | 'none' | 'temperror' | 'permerror';
  /** The policy to apply on failure (p, sp or np, after t=y), when a record was found. */
  readonly policy?: Disposition;
  /** The author (RFC5322.From) domain. */
  readonly domain?: string;
  /** Where the policy record was published. */
  readonly policyDomain?: string;
}

export interface PolicyInput {
  readonly dmarc: DmarcOutcome | undefined;
  readonly multipleAuthors: boolean;
  /** Authenticated ({auth_authen}) or from a trusted network. */
  readonly trusted: boolean;
  readonly clientIp: string | undefined;
  readonly config: Pick<InboundConfig, 'enforce' | 'on_temperror' | 'multiple_from' | 'overrides'>;
}

export interface PolicyDecision {
  readonly action: PolicyAction;
  /** What the report calls the disposition applied. */
  readonly disposition: Disposition;
  readonly reason: string;
  readonly override?: { readonly reason: OverrideReason; readonly comment?: string };
}

function domainCovered(domain: string, list: readonly string[]): boolean {
  const d = domain.toLowerCase();
  return list.some((x) => d === x || d.endsWith(`.${x}`));
}

function networkCovered(ip: string, nets: readonly string[]): boolean {
  const family = isIP(ip);
  if (!family || !nets.length) return false;
  const bl = new BlockList();
  for (const n of nets) {
    const [addr, bits] = n.split('/') as [string, string | undefined];
    const t = isIP(addr) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) bl.addAddress(addr, t);
    else bl.addSubnet(addr, Number(bits), t);
  }
  return bl.check(ip, family === 6 ? 'ipv6' : 'ipv4');
}

export function matchOverride(overrides: readonly InboundOverride[], domain: string | undefined, ip: string | undefined): InboundOverride | undefined {
  return overrides.find((o) => (domain !== undefined && domainCovered(domain, o.domains)) || (ip !== undefined && networkCovered(ip, o.networks)));
}

export { networkCovered };

export function decidePolicy(input: PolicyInput): PolicyDecision {
  const { dmarc, config } = input;
  const label = (d: PolicyDecision): PolicyDecision =>
    config.enforce || d.action === 'deliver' ? d : { ...d, action: 'deliver', disposition: 'none', reason: `${d.reason} (monitor only: enforce is off)` };

  if (input.trusted) return { action: 'deliver', disposition: 'none', reason: 'authenticated or trusted client', override: { reason: 'local_policy', comment: 'trusted client' } };
  if (input.multipleAuthors) {
    return label(
      config.multiple_from === 'reject'
        ? { action: 'reject', disposition: 'reject', reason: 'several From authors: DMARC cannot be evaluated (RFC 9989 §5.3.1)' }
        : { action: 'deliver', disposition: 'none', reason: 'several From authors accepted by configuration' },
    );
  }
  if (!dmarc) return { action: 'deliver', disposition: 'none', reason: 'no From domain: DMARC not applicable' };
  switch (dmarc.result) {
    case 'pass':
      return { action: 'deliver', disposition: 'none', reason: 'dmarc pass' };
    case 'none':
      return { action: 'deliver', disposition: 'none', reason: 'no DMARC policy' };
    case 'permerror':
      return { action: 'deliver', disposition: 'none', reason: 'DMARC record unusable (permerror)' };
    case 'temperror':
      return label(
        config.on_temperror === 'tempfail'
          ? { action: 'tempfail', disposition: 'none', reason: 'DMARC temperror: DNS trouble, sender will retry' }
          : { action: 'deliver', disposition: 'none', reason: 'DMARC temperror accepted by configuration' },
      );
    case 'fail': {
      const policy = dmarc.policy ?? 'none';
      const o = matchOverride(config.overrides, dmarc.domain, input.clientIp);
      if (o && policy !== 'none') {
        const action = o.action === 'quarantine' && policy === 'reject' ? 'quarantine' : 'deliver';
        return label({
          action,
          disposition: action === 'quarantine' ? 'quarantine' : 'none',
          reason: `dmarc fail, policy ${policy} overridden (${o.reason})`,
          override: { reason: o.reason, ...(o.comment ? { comment: o.comment } : {}) },
        });
      }
      if (policy === 'reject') return label({ action: 'reject', disposition: 'reject', reason: `dmarc fail, policy reject of ${dmarc.policyDomain ?? dmarc.domain}` });
      if (policy === 'quarantine') return label({ action: 'quarantine', disposition: 'quarantine', reason: `dmarc fail, policy quarantine of ${dmarc.policyDomain ?? dmarc.domain}` });
      return { action: 'deliver', disposition: 'none', reason: 'dmarc fail, policy none' };
    }
  }
}
