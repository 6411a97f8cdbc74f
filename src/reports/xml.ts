/**
 * Renders an aggregate report as RFC 9990 XML (namespace urn:ietf:params:xml:ns:dmarc-2.0,
 * schema in RFC 9990 Appendix A). Choices that keep RFC 7489-era parsers working:
 * element order follows RFC 7489 Appendix C's sequences, <sp> and <envelope_from> are always
 * present, and the disposition is never the 9990-only value "pass" (we write "none": no action
 * taken). What still differs from 7489 is listed in docs/reports.md and checked by
 * test/reports/legacy-parsers.test.ts.
 */
import type { AggregateReport } from './aggregate.ts';

export const DMARC_NS = 'urn:ietf:params:xml:ns:dmarc-2.0';

export interface ReportMeta {
  readonly orgName: string;
  readonly email: string;
  readonly extraContactInfo?: string | undefined;
  readonly reportId: string;
  readonly generator: string;
  /**
   * report_metadata/error (RFC 9990 §2.1 ReportMetadataType; RFC 7489 Appendix C): a note
   * about how the report was made. Used to mark on-demand reports (`report send --now`).
   */
  readonly error?: string | undefined;
}

export function xmlEscape(s: string): string {
  // Also drops characters XML 1.0 cannot carry at all (control characters from a peer).
  return s
    .replace(/[^\t\n\r\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

const DKIM_RESULTS = new Set(['none', 'pass', 'fail', 'policy', 'neutral', 'temperror', 'permerror']);
const SPF_RESULTS = new Set(['none', 'pass', 'fail', 'softfail', 'policy', 'neutral', 'temperror', 'permerror']);

/** RFC 8601 results outside the schema's enumeration (e.g. mailauth's "hardfail") are mapped to the nearest. */
function dkimResult(r: string): string {
  const v = r.toLowerCase();
  return DKIM_RESULTS.has(v) ? v : 'permerror';
}
function spfResult(r: string): string {
  const v = r.toLowerCase();
  if (v === 'hardfail') return 'fail';
  return SPF_RESULTS.has(v) ? v : 'permerror';
}

/**
 * RFC 9990 §3.2.3: passing signatures first (aligned with the From domain before others),
 * then the rest, at most 100 per row.
 */
export function dkimForReport<T extends { domain: string; result: string }>(sigs: readonly T[], headerFrom: string): T[] {
  const from = headerFrom.toLowerCase();
  const rank = (d: T) => {
    const dom = d.domain.toLowerCase();
    const pass = d.result.toLowerCase() === 'pass';
    if (pass && dom === from) return 0;
    if (pass && (from.endsWith(`.${dom}`) || dom.endsWith(`.${from}`))) return 1;
    return pass ? 2 : 3;
  };
  return sigs
    .map((d, i) => ({ d, i, r: rank(d) }))
    .sort((a, b) => a.r - b.r || a.i - b.i)
    .slice(0, 100)
    .map((x) => x.d);
}

function el(name: string, value: string | number, indent: string): string {
  return `${indent}<${name}>${xmlEscape(String(value))}</${name}>\n`;
}

export function renderReportXml(report: AggregateReport, meta: ReportMeta): string {
  const p = report.policy;
  let x = '<?xml version="1.0" encoding="UTF-8"?>\n';
  x += `<feedback xmlns="${DMARC_NS}">\n`;
  x += el('version', '1.0', '  ');
  x += '  <report_metadata>\n';
  x += el('org_name', meta.orgName, '    ');
  x += el('email', meta.email, '    ');
  if (meta.extraContactInfo) x += el('extra_contact_info', meta.extraContactInfo, '    ');
  x += el('report_id', meta.reportId, '    ');
  x += '    <date_range>\n';
  x += el('begin', Math.floor(report.begin / 1000), '      ');
  // RFC 9990 §2.1.1: end is the last second covered, inclusive (as Google and 7489 senders use it).
  x += el('end', Math.floor(report.end / 1000) - 1, '      ');
  x += '    </date_range>\n';
  // After date_range: RFC 7489's sequence order (9990's xs:all takes any order).
  if (meta.error) x += el('error', meta.error, '    ');
  x += el('generator', meta.generator, '    ');
  x += '  </report_metadata>\n';
  x += '  <policy_published>\n';
  x += el('domain', p.domain, '    ');
  x += el('adkim', p.adkim === 's' ? 's' : 'r', '    ');
  x += el('aspf', p.aspf === 's' ? 's' : 'r', '    ');
  x += el('p', p.p, '    ');
  x += el('sp', p.sp ?? p.p, '    ');
  if (p.np) x += el('np', p.np, '    ');
  if (p.fo) x += el('fo', p.fo, '    ');
  x += el('testing', p.testing ? 'y' : 'n', '    ');
  x += '  </policy_published>\n';
  for (const r of report.records) {
    x += '  <record>\n    <row>\n';
    x += el('source_ip', r.sourceIp, '      ');
    x += el('count', r.count, '      ');
    x += '      <policy_evaluated>\n';
    x += el('disposition', r.disposition, '        ');
    x += el('dkim', r.dkimAligned, '        ');
    x += el('spf', r.spfAligned, '        ');
    for (const reason of r.reasons) {
      // 7489's "forwarded"/"sampled_out" are gone in 9990; they become "other" with a comment.
      const type = reason.type === 'forwarded' || reason.type === 'sampled_out' ? 'other' : reason.type;
      const comment = reason.comment ?? (type !== reason.type ? reason.type : undefined);
      x += '        <reason>\n';
      x += el('type', type, '          ');
      if (comment) x += el('comment', comment, '          ');
      x += '        </reason>\n';
    }
    x += '      </policy_evaluated>\n    </row>\n';
    x += '    <identifiers>\n';
    if (r.envelopeTo) x += el('envelope_to', r.envelopeTo, '      ');
    x += el('header_from', r.headerFrom, '      ');
    // Always present, empty for a null reverse-path: RFC 9990 ("identifiers": "MAY be existing but
    // empty") allows it and RFC 7489 Appendix C requires the element (minOccurs="1").
    x += el('envelope_from', r.envelopeFrom, '      ');
    x += '    </identifiers>\n';
    x += '    <auth_results>\n';
    for (const d of dkimForReport(r.dkim, r.headerFrom)) {
      x += '      <dkim>\n';
      x += el('domain', d.domain.toLowerCase(), '        ');
      x += el('selector', d.selector, '        ');
      x += el('result', dkimResult(d.result), '        ');
      if (d.humanResult) x += el('human_result', d.humanResult, '        ');
      x += '      </dkim>\n';
    }
    x += '      <spf>\n';
    x += el('domain', r.spf.domain.toLowerCase(), '        ');
    // RFC 9990 knows only the mfrom scope; a HELO result is reported without scope.
    if (r.spf.scope === 'mfrom') x += el('scope', 'mfrom', '        ');
    x += el('result', spfResult(r.spf.result), '        ');
    x += '      </spf>\n';
    x += '    </auth_results>\n  </record>\n';
  }
  x += '</feedback>\n';
  return x;
}
