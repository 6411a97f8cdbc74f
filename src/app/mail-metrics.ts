/**
 * The filters' per-message metrics (prom-client), counted through the `MailObserver` the
 * runtime hands them:
 *
 * - `mailanchor_dmarc_messages_total{policy_domain, result, disposition}`: inbound messages by
 *   DMARC result (RFC 9989: pass, fail, none, temperror, permerror) and what was done
 *   (deliver, quarantine, reject, tempfail). The policy domain is where the DMARC record
 *   was found, or the author domain when there is none. Its label values are bounded
 *   (src/metrics/domain-labels.ts): configured domains, the busiest `top_domains`, `other`.
 * - `mailanchor_dkim_signatures_total{domain, selector, algorithm}`: signatures we made. Our
 *   own keys only, so the values are bounded by the keystore.
 *
 * A worker of a cluster counts its own messages; the primary sums them.
 */
import { Counter, type Registry } from 'prom-client';
import type { DmarcResult } from '../auth/results.ts';
import { createDomainLabels } from '../metrics/domain-labels.ts';
import type { PolicyAction } from '../policy/disposition.ts';
import type { MailObserver } from './mail-filter.ts';

const RESULTS: readonly DmarcResult[] = ['pass', 'fail', 'none', 'temperror', 'permerror'];
const ACTIONS: readonly PolicyAction[] = ['deliver', 'quarantine', 'reject', 'tempfail'];

export interface MailMetricsOptions {
  /** Policy domains that always have their own label. */
  readonly domains: Iterable<string>;
  /** How many other, busiest, policy domains get one. */
  readonly topDomains: number;
}

export function registerMailMetrics(registry: Registry, o: MailMetricsOptions): MailObserver {
  const registers = [registry];
  const dmarc = new Counter({
    name: 'mailanchor_dmarc_messages_total',
    help: 'Inbound messages by DMARC policy domain (configured, busiest, or other), DMARC result and the disposition applied',
    labelNames: ['policy_domain', 'result', 'disposition'],
    registers,
  });
  const signatures = new Counter({
    name: 'mailanchor_dkim_signatures_total',
    help: 'DKIM signatures made for outbound mail, by signing domain, selector and algorithm',
    labelNames: ['domain', 'selector', 'algorithm'],
    registers,
  });
  const labels = createDomainLabels({
    fixed: o.domains,
    top: o.topDomains,
    // A domain that left the busiest set: drop its series (its messages now count as `other`).
    onDemote: (d) => {
      for (const result of RESULTS) for (const disposition of ACTIONS) dmarc.remove({ policy_domain: d, result, disposition });
    },
  });
  return {
    inbound(check, disposition) {
      const policyDomain = labels.label(check.policyDomain ?? check.fromDomain);
      dmarc.inc({ policy_domain: policyDomain, result: check.result, disposition: disposition.action });
    },
    signed(keys) {
      for (const k of keys) signatures.inc({ domain: k.domain, selector: k.selector, algorithm: k.algorithm });
    },
  };
}
