/**
 * SMTP TLS reports (RFC 8460 §4.4 JSON). Lenient like the DMARC reader: missing or empty
 * optional fields ("failure-details" entries with empty strings, as mail.ru and others
 * write them), numbers written as strings, unknown keys; strict on what the page needs —
 * an organisation, a date range, and `policies` as a list, each with a summary.
 */
import { ReportError } from '../errors.ts';
import { canonicalIp } from './aggregate-parser.ts';
import { reporterKey, type TlsFailure, type TlsPolicyResult, type TlsPolicyType, type TlsReport } from './model.ts';
import { printable } from './printable.ts';
import type { Warnings } from './warnings.ts';

const MAX_POLICIES = 10_000;
const MAX_FAILURES = 10_000;

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string => (typeof v === 'string' ? printable(v).trim() : typeof v === 'number' ? String(v) : '');
const host = (v: unknown): string => str(v).toLowerCase().replace(/\.$/, '');

function count(v: unknown, what: string, warnings: Warnings): number {
  if (v === undefined || v === null || v === '') return 0;
  const n = typeof v === 'number' ? v : Number(v);
  if (Number.isSafeInteger(n) && n >= 0) return n;
  warnings.add(`"${what}" ${JSON.stringify(v).slice(0, 30)} is not a count: taken as 0`);
  return 0;
}

function time(v: unknown, what: string): number {
  const t = typeof v === 'string' ? Date.parse(v) : NaN;
  if (!Number.isFinite(t)) throw new ReportError('NOT_A_REPORT', `TLS report: "${what}" ${JSON.stringify(v)?.slice(0, 40)} is not an RFC 3339 date-time`);
  return Math.floor(t / 1000);
}

function policyType(v: unknown, warnings: Warnings): TlsPolicyType {
  const t = str(v).toLowerCase();
  if (t === 'sts' || t === 'tlsa' || t === 'no-policy-found') return t;
  warnings.add(`unknown "policy-type" ${JSON.stringify(t).slice(0, 30)}`);
  return 'unknown';
}

function failure(f: Obj, warnings: Warnings): TlsFailure | undefined {
  const resultType = str(f['result-type']).toLowerCase();
  const failedSessions = count(f['failed-session-count'], 'failed-session-count', warnings);
  if (!resultType && failedSessions === 0) return undefined;
  const out: { -readonly [K in keyof TlsFailure]?: TlsFailure[K] } = { resultType: resultType || 'unknown', failedSessions };
  const ip = canonicalIp(str(f['sending-mta-ip']));
  if (ip) out.sendingMtaIp = ip;
  const mx = host(f['receiving-mx-hostname']);
  if (mx) out.receivingMxHostname = mx;
  const helo = host(f['receiving-mx-helo']);
  if (helo) out.receivingMxHelo = helo;
  const rip = canonicalIp(str(f['receiving-ip']));
  if (rip) out.receivingIp = rip;
  const info = str(f['additional-information']);
  if (info) out.additionalInformation = info.slice(0, 1000);
  const code = str(f['failure-reason-code']);
  if (code) out.failureReasonCode = code.slice(0, 200);
  return out as TlsFailure;
}

export function parseTlsReport(json: string, warnings: Warnings): TlsReport {
  let doc: unknown;
  try {
    doc = JSON.parse(json);
  } catch (err) {
    throw new ReportError('UNREADABLE', `malformed JSON: ${(err as Error).message}`, {}, { cause: err });
  }
  if (!isObj(doc) || !('policies' in doc) || !('date-range' in doc)) throw new ReportError('NOT_A_REPORT', 'JSON but not a TLS report (RFC 8460: no "policies" and "date-range")');
  const range = doc['date-range'];
  if (!isObj(range)) throw new ReportError('NOT_A_REPORT', 'TLS report: "date-range" is not an object');
  let begin = time(range['start-datetime'], 'start-datetime');
  let end = time(range['end-datetime'], 'end-datetime');
  if (end < begin) [begin, end] = [end, begin];
  const policies = doc.policies;
  if (!Array.isArray(policies)) throw new ReportError('NOT_A_REPORT', 'TLS report: "policies" is not a list');
  if (policies.length > MAX_POLICIES) throw new ReportError('TOO_LARGE', `TLS report: more than ${MAX_POLICIES} policies`);
  const contact = str(doc['contact-info']);
  let orgName = str(doc['organization-name']).replace(/\s+/g, ' ');
  if (!orgName) {
    orgName = contact.includes('@') ? contact.slice(contact.lastIndexOf('@') + 1).toLowerCase() : 'unknown reporter';
    warnings.add(`empty "organization-name": reporter named ${orgName}`);
  }
  let reportId = str(doc['report-id']);
  if (!reportId) {
    reportId = `${reporterKey(orgName)}!${begin}!${end}`;
    warnings.add(`empty "report-id": using ${reportId}`);
  }
  const out: TlsPolicyResult[] = policies.map((p, i) => {
    if (!isObj(p) || !isObj(p.policy)) throw new ReportError('NOT_A_REPORT', `TLS report: policies[${i}] has no "policy"`);
    const pol = p.policy;
    const summary = isObj(p.summary) ? p.summary : {};
    if (!isObj(p.summary)) warnings.add(`policies[${i}] without "summary": counted as 0 sessions`);
    const details = Array.isArray(p['failure-details']) ? p['failure-details'] : [];
    if (details.length > MAX_FAILURES) throw new ReportError('TOO_LARGE', `TLS report: more than ${MAX_FAILURES} failure details in one policy`);
    const strings = Array.isArray(pol['policy-string']) ? pol['policy-string'].map(str).filter(Boolean).slice(0, 100) : [];
    const mx = Array.isArray(pol['mx-host']) ? pol['mx-host'].map(host).filter(Boolean).slice(0, 100) : typeof pol['mx-host'] === 'string' ? [host(pol['mx-host'])] : [];
    return {
      policyType: policyType(pol['policy-type'], warnings),
      policyDomain: host(pol['policy-domain']),
      policyStrings: strings,
      mxHosts: mx,
      successfulSessions: count(summary['total-successful-session-count'], 'total-successful-session-count', warnings),
      failedSessions: count(summary['total-failure-session-count'], 'total-failure-session-count', warnings),
      failures: details.flatMap((f) => {
        const x = isObj(f) ? failure(f, warnings) : undefined;
        return x ? [x] : [];
      }),
    };
  });
  if (out.some((p) => !p.policyDomain)) throw new ReportError('NOT_A_REPORT', 'TLS report: a policy without "policy-domain"');
  return { orgName, ...(contact ? { contactInfo: contact } : {}), reportId, begin, end, policies: out };
}
