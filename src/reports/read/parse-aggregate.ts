/**
 * Parses a received DMARC aggregate report (RFC 7489 Appendix C or RFC 9990, with or
 * without namespace, as Google, Microsoft, Yahoo … write them) into a plain model. Strict
 * about what a summary needs (metadata, policy domain, rows with IP and count), lenient
 * about the rest; anything missing is a clear ReportError, never a crash.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { ReportError } from '../errors.ts';

export interface ReceivedRow {
  readonly sourceIp: string;
  readonly count: number;
  readonly disposition: string;
  /** DMARC-aligned results from <policy_evaluated>. */
  readonly dkimAligned: boolean;
  readonly spfAligned: boolean;
  readonly headerFrom: string;
  /** Raw results from <auth_results>: any DKIM pass, the SPF result. */
  readonly dkimAuth: readonly { domain: string; selector?: string; result: string }[];
  readonly spfAuth: readonly { domain: string; result: string }[];
}

export interface ReceivedAggregate {
  readonly kind: 'dmarc';
  readonly orgName: string;
  readonly email: string;
  readonly reportId: string;
  readonly begin: number; // s
  readonly end: number; // s
  readonly policyDomain: string;
  readonly policy: string; // p
  readonly rows: readonly ReceivedRow[];
}

const ARRAYS = new Set(['record', 'dkim', 'spf', 'reason', 'error']);

const parser = new XMLParser({
  ignoreAttributes: true,
  removeNSPrefix: true,
  parseTagValue: false,
  trimValues: true,
  processEntities: true,
  htmlEntities: false,
  // <dkim>/<spf> are lists inside <auth_results> and single values inside <policy_evaluated>.
  isArray: (name, jpath) => ARRAYS.has(name) && !String(jpath).includes('policy_evaluated'),
});

type Node = Record<string, unknown>;

function obj(v: unknown, what: string): Node {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ReportError('NOT_A_REPORT', `missing or malformed <${what}>`);
  return v as Node;
}
function text(v: unknown, what: string): string {
  if (typeof v === 'string' && v.length > 0) return v;
  if (typeof v === 'number') return String(v);
  throw new ReportError('NOT_A_REPORT', `missing <${what}>`);
}
function opt(v: unknown): string {
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '';
}

export function parseAggregateXml(xml: string): ReceivedAggregate {
  const valid = XMLValidator.validate(xml);
  if (valid !== true) throw new ReportError('UNREADABLE', `malformed XML: ${valid.err.msg} (line ${valid.err.line})`);
  let doc: Node;
  try {
    doc = parser.parse(xml) as Node;
  } catch (err) {
    throw new ReportError('UNREADABLE', `malformed XML: ${(err as Error).message}`, {}, { cause: err });
  }
  const fb = doc.feedback;
  if (fb === undefined) throw new ReportError('NOT_A_REPORT', 'XML but not a DMARC aggregate report (no <feedback> root)');
  const feedback = obj(fb, 'feedback');
  const meta = obj(feedback.report_metadata, 'report_metadata');
  const range = obj(meta.date_range, 'date_range');
  const pp = obj(feedback.policy_published, 'policy_published');
  const records = (feedback.record ?? []) as unknown[];
  const rows: ReceivedRow[] = records.map((r, i) => {
    const rec = obj(r, `record[${i}]`);
    const row = obj(rec.row, `record[${i}]/row`);
    const pe = obj(row.policy_evaluated, `record[${i}]/row/policy_evaluated`);
    const ids = rec.identifiers === undefined ? {} : obj(rec.identifiers, `record[${i}]/identifiers`);
    const auth = rec.auth_results === undefined ? {} : obj(rec.auth_results, `record[${i}]/auth_results`);
    const count = Number(text(row.count, `record[${i}]/row/count`));
    if (!Number.isSafeInteger(count) || count < 0) throw new ReportError('NOT_A_REPORT', `record[${i}]: bad count ${JSON.stringify(row.count)}`);
    return {
      sourceIp: text(row.source_ip, `record[${i}]/row/source_ip`),
      count,
      disposition: opt(pe.disposition) || 'none',
      dkimAligned: opt(pe.dkim).toLowerCase() === 'pass',
      spfAligned: opt(pe.spf).toLowerCase() === 'pass',
      headerFrom: opt(ids.header_from).toLowerCase(),
      dkimAuth: ((auth.dkim ?? []) as unknown[]).filter((d): d is Node => typeof d === 'object' && d !== null).map((d) => {
        const selector = opt(d.selector);
        return selector ? { domain: opt(d.domain), selector, result: opt(d.result) } : { domain: opt(d.domain), result: opt(d.result) };
      }),
      spfAuth: ((auth.spf ?? []) as unknown[]).filter((d): d is Node => typeof d === 'object' && d !== null).map((d) => ({ domain: opt(d.domain), result: opt(d.result) })),
    };
  });
  return {
    kind: 'dmarc',
    orgName: text(meta.org_name, 'org_name'),
    email: opt(meta.email),
    reportId: text(meta.report_id, 'report_id'),
    begin: Number(text(range.begin, 'begin')),
    end: Number(text(range.end, 'end')),
    policyDomain: text(pp.domain, 'policy_published/domain').toLowerCase(),
    policy: opt(pp.p),
    rows,
  };
}
