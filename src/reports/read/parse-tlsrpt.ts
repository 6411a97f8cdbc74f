/** Parses an SMTP TLS report (RFC 8460 §4.3 JSON) into the summary's model. */
import { ReportError } from '../errors.ts';

export interface TlsPolicySummary {
  readonly policyType: string; // sts, tlsa, no-policy-found
  readonly policyDomain: string;
  readonly successful: number;
  readonly failed: number;
  readonly failures: readonly { resultType: string; sendingIp: string; receivingMx: string; count: number }[];
}

export interface ReceivedTlsReport {
  readonly kind: 'tlsrpt';
  readonly orgName: string;
  readonly reportId: string;
  readonly begin: number; // s
  readonly end: number; // s
  readonly policies: readonly TlsPolicySummary[];
}

function rec(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ReportError('NOT_A_REPORT', `TLS-RPT: missing or malformed "${what}"`);
  return v as Record<string, unknown>;
}
function num(v: unknown): number {
  const n = typeof v === 'number' ? v : Number(v);
  return Number.isFinite(n) && n >= 0 ? Math.trunc(n) : 0;
}
function secs(v: unknown, what: string): number {
  const t = typeof v === 'string' ? Date.parse(v) : NaN;
  if (!Number.isFinite(t)) throw new ReportError('NOT_A_REPORT', `TLS-RPT: bad "${what}" ${JSON.stringify(v)}`);
  return Math.floor(t / 1000);
}

export function parseTlsRpt(json: string): ReceivedTlsReport {
  let doc: unknown;
  try {
    doc = JSON.parse(json);
  } catch (err) {
    throw new ReportError('UNREADABLE', `malformed JSON: ${(err as Error).message}`, {}, { cause: err });
  }
  const d = rec(doc, 'report');
  if (!('organization-name' in d) || !('policies' in d)) throw new ReportError('NOT_A_REPORT', 'JSON but not a TLS-RPT report (no "organization-name"/"policies")');
  const range = rec(d['date-range'], 'date-range');
  if (!Array.isArray(d.policies)) throw new ReportError('NOT_A_REPORT', 'TLS-RPT: "policies" is not a list');
  return {
    kind: 'tlsrpt',
    orgName: String(d['organization-name']),
    reportId: String(d['report-id'] ?? ''),
    begin: secs(range['start-datetime'], 'start-datetime'),
    end: secs(range['end-datetime'], 'end-datetime'),
    policies: d.policies.map((p: unknown) => {
      const pol = rec(p, 'policies[]');
      const policy = rec(pol.policy, 'policy');
      const summary = rec(pol.summary, 'summary');
      const details = Array.isArray(pol['failure-details']) ? (pol['failure-details'] as unknown[]) : [];
      return {
        policyType: String(policy['policy-type'] ?? ''),
        policyDomain: String(policy['policy-domain'] ?? '').toLowerCase(),
        successful: num(summary['total-successful-session-count']),
        failed: num(summary['total-failure-session-count']),
        failures: details.map((x) => {
          const f = rec(x, 'failure-details[]');
          return {
            resultType: String(f['result-type'] ?? ''),
            sendingIp: String(f['sending-mta-ip'] ?? ''),
            receivingMx: String(f['receiving-mx-hostname'] ?? ''),
            count: num(f['failed-session-count']),
          };
        }),
      };
    }),
  };
}
