/**
 * The generated report XML against the published RFC 9990 schema with xmllint (libxml2),
 * an independent validator; and the message around it (subject, file name, gzip).
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { buildReports } from '../../src/reports/aggregate.ts';
import { buildReportMessage, gzipXml, reportFileName, reportIdOf, reportSubject, type ReportIdentity } from '../../src/reports/message.ts';
import { parseAggregate } from '../../src/reports/read/aggregate-parser.ts';
import { gzipAttachment } from './attachment.ts';
import { renderReportXml } from '../../src/reports/xml.ts';
import type { StoredEvaluation } from '../../src/reports/evaluation-reader.ts';
import { DAY, evaluation, HOUR, policy, spoofed, T0 } from './evaluations.ts';

const XSD = new URL('../fixtures/reports/rfc9990-dmarc-2.0.xsd', import.meta.url).pathname;
const missing = existsSync('/usr/bin/xmllint') ? undefined : 'xmllint (libxml2-utils) not installed';
const it = missing ? test.skip : test;
if (missing) test.skip(`schema validation: ${missing}`, () => {});

let dir = '';
test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mailanchor-xsd-'));
});
test.after.always(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

function xmllint(file: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile('/usr/bin/xmllint', ['--noout', '--schema', XSD, file], (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}` });
    });
  });
}

/** Every shape the generator can produce: overrides, testing mode, HELO scope, IPv6, no DKIM, many DKIM, odd characters. */
function richReport() {
  const d = 'example.test';
  const evs = [
    evaluation(),
    evaluation({ sourceIp: '2001:db8::25', envelopeTo: 'Receiver.Test', dkim: [{ domain: d, selector: 's1', result: 'pass' }, { domain: 'esp.test', selector: 'k&<1>', result: 'fail', humanResult: 'body hash "mismatch" <&>' }] }),
    spoofed(),
    spoofed({ overrideReason: 'mailing_list', overrideComment: 'list@lists.test', disposition: 'none' }),
    spoofed({ overrideReason: 'forwarded', disposition: 'none' }),
    spoofed({ envelopeFrom: '', spf: { domain: 'helo.spam.invalid', scope: 'helo', result: 'hardfail' } }),
    spoofed({ policy: policy(d, { testing: true, p: 'quarantine', sp: 'reject', np: 'reject', fo: '1', adkim: 's', aspf: 's' }), disposition: 'none' }),
    evaluation({ dkim: [{ domain: d, selector: 's1', result: 'weird-result' }], spf: { domain: d, scope: 'mfrom', result: 'temperror' } }),
  ];
  const rows: StoredEvaluation[] = evs.map((e, i) => ({ id: i + 1, evaluation: { ...e, receivedAt: T0 + i * HOUR } }));
  return buildReports({ rows, intervalMs: DAY, now: T0 + DAY, reportedUntil: new Map() }).reports[0]!;
}

const meta = { orgName: 'Mail & Anchor <Test>', email: 'dmarc-reports@anchor.test', extraContactInfo: 'https://anchor.test/dmarc', reportId: 'abc123@anchor.test', generator: 'mailanchor test' };

it('generated XML validates against the RFC 9990 schema (xmllint --schema)', async (t) => {
  const report = richReport();
  t.is(report.records.length, 8);
  const xml = renderReportXml(report, meta);
  const file = join(dir, 'rich.xml');
  await writeFile(file, xml);
  const r = await xmllint(file);
  t.is(r.code, 0, r.out);
  t.regex(r.out, /validates/);
  // RFC 7489-era expectations kept: no "pass" disposition, <sp> always present, namespace 2.0.
  t.notRegex(xml, /<disposition>pass</);
  t.regex(xml, /<sp>reject<\/sp>/);
  t.regex(xml, /<feedback xmlns="urn:ietf:params:xml:ns:dmarc-2.0">/);
  t.regex(xml, /<type>policy_test_mode<\/type>/);
  t.regex(xml, /<type>other<\/type>\s*<comment>forwarded<\/comment>/);
});

it('the validator is not a rubber stamp: a broken report is refused', async (t) => {
  const xml = renderReportXml(richReport(), meta).replace('<disposition>reject</disposition>', '<disposition>bounce</disposition>');
  const file = join(dir, 'broken.xml');
  await writeFile(file, xml);
  const r = await xmllint(file);
  t.not(r.code, 0);
  t.regex(r.out, /disposition/);
});

test('our own reader reads what we write (round trip)', (t) => {
  const report = richReport();
  const parsed = parseAggregate(renderReportXml(report, meta));
  t.is(parsed.header.orgName, 'Mail & Anchor <Test>');
  t.is(parsed.header.schema, 'rfc9990');
  t.is(parsed.header.policy.domain, 'example.test');
  t.is(parsed.header.begin, T0 / 1000);
  t.is(parsed.header.end, (T0 + DAY) / 1000 - 1);
  t.deepEqual(parsed.warnings, []);
  t.is(parsed.rows.reduce((n, r) => n + r.count, 0), 8);
  t.is(parsed.rows[1]!.dkimAuth.length, 2);
});

test('message: RFC 9990 subject, file name, application/gzip attachment that decompresses to the XML', async (t) => {
  const id: ReportIdentity = { policyDomain: 'example.test', submitter: 'anchor.test', begin: T0 / 1000, end: (T0 + DAY) / 1000 - 1, uniqueId: 'a1b2c3' };
  const xml = renderReportXml(richReport(), { ...meta, reportId: reportIdOf(id) });
  const msg = buildReportMessage({ identity: id, from: 'dmarc-reports@anchor.test', to: ['dmarc@example.test'], gz: gzipXml(xml), now: T0 + DAY, orgName: 'Anchor' });
  const text = msg.toString('ascii');
  t.is(reportSubject(id), 'Report Domain: example.test Submitter: anchor.test Report-ID: <a1b2c3@anchor.test>');
  t.regex(text.replace(/\r\n /g, ' '), /^Subject: Report Domain: example\.test Submitter: anchor\.test Report-ID: <a1b2c3@anchor\.test>\r$/m);
  t.is(reportFileName(id), `anchor.test!example.test!${T0 / 1000}!${(T0 + DAY) / 1000 - 1}!a1b2c3.xml.gz`);
  t.true(text.split('\r\n').every((l) => l.length <= 998));
  const gz = await gzipAttachment(msg);
  t.is(gz?.fileName, reportFileName(id));
  t.is(gunzipSync(gz!.data).toString('utf8'), xml);
});

test('DKIM results in a row: passing and aligned first, at most 100', async (t) => {
  const { dkimForReport } = await import('../../src/reports/xml.ts');
  const sigs = [
    { domain: 'esp.test', result: 'fail' },
    { domain: 'esp.test', result: 'pass' },
    { domain: 'mail.example.test', result: 'pass' },
    { domain: 'example.test', result: 'pass' },
    ...Array.from({ length: 120 }, (_, i) => ({ domain: `x${i}.test`, result: 'fail' })),
  ];
  const out = dkimForReport(sigs, 'example.test');
  t.is(out.length, 100);
  t.deepEqual(out.slice(0, 4).map((d) => `${d.domain}:${d.result}`), ['example.test:pass', 'mail.example.test:pass', 'esp.test:pass', 'esp.test:fail']);
});
