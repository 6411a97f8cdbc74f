/** Test data for the reports tests: DMARC evaluations as the inbound filter stores them. */
import type { DmarcEvaluation, PublishedPolicy } from '../../src/inbound/evaluation-log.ts';

export const T0 = Date.UTC(2026, 10, 1); // 2026-11-01T00:00:00Z
export const HOUR = 3_600_000;
export const DAY = 86_400_000;

export function policy(domain: string, over: Partial<PublishedPolicy> = {}): PublishedPolicy {
  return { domain, p: 'reject', adkim: 'r', aspf: 'r', testing: false, rua: [`mailto:dmarc@${domain}`], ri: 86400, ...over };
}

export function evaluation(over: Partial<DmarcEvaluation> & { domain?: string } = {}): DmarcEvaluation {
  const domain = over.domain ?? 'example.test';
  const { domain: _d, ...rest } = over;
  void _d;
  return {
    receivedAt: T0 + HOUR,
    sourceIp: '192.0.2.10',
    headerFrom: domain,
    envelopeFrom: domain,
    spf: { domain, scope: 'mfrom', result: 'pass' },
    dkim: [{ domain, selector: 's1', result: 'pass' }],
    dmarcResult: 'pass',
    spfAligned: true,
    dkimAligned: true,
    policy: policy(domain),
    disposition: 'none',
    ...rest,
  };
}

/** A failing message from a spoofing source. */
export function spoofed(over: Partial<DmarcEvaluation> & { domain?: string } = {}): DmarcEvaluation {
  const domain = over.domain ?? 'example.test';
  return evaluation({
    sourceIp: '203.0.113.66',
    envelopeFrom: 'spam.invalid',
    spf: { domain: 'spam.invalid', scope: 'mfrom', result: 'softfail' },
    dkim: [],
    dmarcResult: 'fail',
    spfAligned: false,
    dkimAligned: false,
    disposition: 'reject',
    ...over,
    domain,
  });
}
