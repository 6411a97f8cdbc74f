/** `tls-rpt` (RFC 8460 §3): exactly one `v=TLSRPTv1` record at `_smtp._tls.<domain>` with a `mailto:` or `https:` rua. Pure. */
import { isTlsRptRecord, parseTlsRptRecord } from '../tls-rpt-record.ts';
import { result, type CheckResult, type Observed } from '../types.ts';

export interface TlsRptObservation {
  readonly domain: string;
  readonly txt: Observed<readonly string[]>;
}

const r = result('tls-rpt');

export function judgeTlsRpt(o: TlsRptObservation): CheckResult[] {
  const subject = `_smtp._tls.${o.domain}`;
  const fix = `${subject}. IN TXT "v=TLSRPTv1; rua=mailto:tlsrpt@${o.domain}"`;
  if (!o.txt.ok) return [r.error(subject, `TXT lookup failed: ${o.txt.error}`)];
  const records = o.txt.value.filter(isTlsRptRecord);
  if (records.length === 0) return [r.warn(subject, 'no TLS-RPT record: senders cannot tell you when TLS (DANE, MTA-STS) to your MX fails', fix)];
  if (records.length > 1) return [r.fail(subject, `${records.length} v=TLSRPTv1 records: senders assume there is none (RFC 8460 §3)`, `keep one: ${fix}`)];
  const parsed = parseTlsRptRecord(records[0]!);
  if (!parsed.ok) return [r.fail(subject, `invalid record "${records[0]}": ${parsed.reason}`, fix)];
  return [r.ok(subject, `reports to ${parsed.rua.join(', ')}`)];
}
