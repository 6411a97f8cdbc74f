/**
 * Control characters in report text: what a hostile or broken reporter can put into a name,
 * id or domain (JSON `\u` escapes, C1 characters XML allows, lone surrogates) never reaches
 * a terminal, the store or the page as is.
 */
import test from 'ava';
import { parseAggregate } from '../../../src/reports/read/aggregate-parser.ts';
import { printable } from '../../../src/reports/read/printable.ts';
import { parseTlsReport } from '../../../src/reports/read/tlsrpt-parser.ts';
import { Warnings } from '../../../src/reports/read/warnings.ts';

test('printable: white space becomes a space, other controls and lone surrogates U+FFFD; other text is unchanged (the same string)', (t) => {
  t.is(printable('a\tb\r\nc'), 'a b  c');
  t.is(printable('x\u0000y\u001b[31m\u007f\u0085\u009b'), 'x\uFFFDy\uFFFD[31m\uFFFD\uFFFD\uFFFD');
  t.is(printable('lone \ud800 high, \udc00 low'), 'lone \uFFFD high, \uFFFD low');
  const plain = 'Ústřední Pošta 📮 example.test';
  t.is(printable(plain), plain);
  t.is(printable('\u00a0\u00ff'), '\u00a0\u00ff', 'Latin-1 letters and NBSP are text');
});

test('a TLS report with NUL, ESC and lone surrogates in its strings: every string printable; the domain with a NUL is no domain of ours', (t) => {
  const json = JSON.stringify({
    'organization-name': 'Evil\u0000\u001b[2JCorp',
    'date-range': { 'start-datetime': '2026-10-01T00:00:00Z', 'end-datetime': '2026-10-01T23:59:59Z' },
    'report-id': 'id\u0000\ud800',
    policies: [{ policy: { 'policy-type': 'sts', 'policy-domain': 'exa\u0000mple.test', 'mx-host': ['mx\u001b.example.test'] }, summary: { 'total-successful-session-count': 1, 'total-failure-session-count': 1 }, 'failure-details': [{ 'result-type': 'starttls-not-supported', 'failed-session-count': 1, 'additional-information': 'line1\nline2\u0007' }] }],
  });
  const r = parseTlsReport(json, new Warnings());
  t.is(r.orgName, 'Evil\uFFFD\uFFFD[2JCorp');
  t.is(r.reportId, 'id\uFFFD\uFFFD');
  t.is(r.policies[0]!.policyDomain, 'exa\uFFFDmple.test');
  t.deepEqual(r.policies[0]!.mxHosts, ['mx\uFFFD.example.test']);
  t.is(r.policies[0]!.failures[0]!.additionalInformation, 'line1 line2\uFFFD');
  t.false(/[\u0000-\u001f\u007f-\u009f]/.test(JSON.stringify(r).replace(/\\u[0-9a-f]{4}/gi, (e) => String.fromCharCode(parseInt(e.slice(2), 16)))));
});

test('a DMARC report with C1 characters (XML 1.0 allows them) in its names: replaced', (t) => {
  const xml = `<?xml version="1.0"?><feedback><report_metadata><org_name>A&#x9b;31mB</org_name><email>a@b.example</email><report_id>r&#x85;1</report_id><date_range><begin>1790812800</begin><end>1790899199</end></date_range></report_metadata><policy_published><domain>example.test</domain><p>none</p></policy_published><record><row><source_ip>192.0.2.1</source_ip><count>1</count><policy_evaluated><disposition>none</disposition><dkim>pass</dkim><spf>pass</spf></policy_evaluated></row><identifiers><header_from>example.test</header_from></identifiers><auth_results><dkim><domain>example.test</domain><selector>s&#x9f;1</selector><result>pass</result></dkim></auth_results></record></feedback>`;
  const r = parseAggregate(xml);
  t.is(r.header.orgName, 'A\uFFFD31mB');
  t.is(r.header.reportId, 'r\uFFFD1');
  t.is(r.rows[0]!.dkimAuth[0]!.selector, 's\uFFFD1');
});
