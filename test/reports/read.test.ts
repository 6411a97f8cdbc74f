/**
 * `mailanchor report read` on samples in the big receivers' formats (Google .zip in a mail,
 * Microsoft and Yahoo .xml.gz, a TLS-RPT .json.gz, a maildir), plus bad input: malformed
 * XML, zip and gzip bombs, oversized files and attachments, duplicates, reports for domains
 * not ours. Then the HTML page in headless Chromium: screenshot and the SVG chart in the DOM.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { run } from '../../src/cli/report.ts';
import { readReports } from '../../src/reports/read/read-reports.ts';
import { makeZip } from './zip-writer.ts';
import { captureIo } from '../support/cli-io.ts';

const SAMPLES = new URL('../fixtures/reports/samples/', import.meta.url).pathname;
const OUTPUT = new URL('../../test-output/', import.meta.url).pathname;
const GOOGLE = 'google.com!example.test!1793491200!1793577599';
const OUTLOOK = 'enterprise.protection.outlook.com!example.test!1793491200!1793577600';
const YAHOO = 'yahoo.com!example.test!1793491200!1793577599';
const TLS = 'google.com!example.test!1793491200!1793577599!001';
const LIMITS = { maxFileSize: 2 * 1024 * 1024, maxUncompressedSize: 1024 * 1024, maxZipEntries: 10 };

let dir = '';
const sample = (name: string) => readFileSync(join(SAMPLES, name));

function mail(attachment: Buffer, fileName: string, contentType: string): Buffer {
  const b64 = attachment.toString('base64').replace(/.{1,76}/g, '$&\r\n');
  return Buffer.from(
    [
      'Return-Path: <noreply-dmarc-support@google.com>',
      'From: noreply-dmarc-support@google.com',
      'To: dmarc@example.test',
      `Subject: Report domain: example.test Submitter: google.com Report-ID: 17935040123456789012`,
      'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="000000000000abcdef"',
      '',
      '--000000000000abcdef',
      'Content-Type: text/plain; charset="UTF-8"; format=flowed; delsp=yes',
      '',
      'This is an aggregate report from google.com.',
      '',
      '--000000000000abcdef',
      `Content-Type: ${contentType}; name="${fileName}"`,
      `Content-Disposition: attachment; filename="${fileName}"`,
      'Content-Transfer-Encoding: base64',
      '',
      b64,
      '--000000000000abcdef--',
      '',
    ].join('\r\n'),
  );
}

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mailanchor-read-'));
  mkdirSync(OUTPUT, { recursive: true });
  // Google: .zip, attached to a whole message.
  const googleZip = makeZip([{ name: `${GOOGLE}.xml`, data: sample(`${GOOGLE}.xml`) }]);
  await writeFile(join(dir, 'google.eml'), mail(googleZip, `${GOOGLE}.zip`, 'application/zip'));
  // Microsoft and Yahoo: .xml.gz files; Microsoft's also arrives in a maildir.
  await writeFile(join(dir, `${YAHOO}.xml.gz`), gzipSync(sample(`${YAHOO}.xml`)));
  const maildir = join(dir, 'Maildir');
  for (const sub of ['cur', 'new', 'tmp']) mkdirSync(join(maildir, sub), { recursive: true });
  await writeFile(join(maildir, 'new', '1793580000.M1P1.mx'), mail(gzipSync(sample(`${OUTLOOK}.xml`)), `${OUTLOOK}.xml.gz`, 'application/gzip'));
  await writeFile(join(maildir, 'cur', '1793580001.M2P1.mx:2,S'), 'From: someone@example.test\r\nSubject: hello\r\n\r\nJust a note, no report.\r\n');
  // TLS-RPT as Google sends it.
  await writeFile(join(dir, `${TLS}.json.gz`), gzipSync(sample(`${TLS}.json`)));
  // Bad input.
  await copyFile(join(SAMPLES, 'malformed.xml'), join(dir, 'malformed.xml'));
  await copyFile(join(SAMPLES, 'other-domain.xml'), join(dir, 'other-domain.xml'));
  await copyFile(join(SAMPLES, `${GOOGLE}.xml`), join(dir, 'google-again.xml')); // duplicate of the zipped one
  const zeros = Buffer.alloc(8 * 1024 * 1024);
  await writeFile(join(dir, 'bomb-lying.zip'), makeZip([{ name: 'report.xml', data: zeros, declaredSize: 1000 }]));
  await writeFile(join(dir, 'bomb-declared.zip'), makeZip([{ name: 'report.xml', data: Buffer.from('<feedback/>'), declaredSize: 3_000_000_000 }]));
  await writeFile(join(dir, 'bomb.xml.gz'), gzipSync(zeros));
  await writeFile(join(dir, 'many-entries.zip'), makeZip(Array.from({ length: 11 }, (_, i) => ({ name: `r${i}.xml`, data: Buffer.from('<feedback/>') }))));
  // Nested: a zip of gzips, each small enough alone, together beyond the limit.
  await writeFile(join(dir, 'bomb-nested.zip'), makeZip(Array.from({ length: 5 }, (_, i) => ({ name: `r${i}.xml.gz`, data: gzipSync(Buffer.concat([Buffer.from('<feedback>'), Buffer.alloc(300 * 1024, 0x20), Buffer.from('</feedback>')])), store: true }))));
  await writeFile(join(dir, 'huge.xml'), Buffer.alloc(3 * 1024 * 1024, 0x20));
  await writeFile(join(dir, 'huge-attachment.eml'), mail(gzipSync(zeros), 'big.xml.gz', 'application/gzip'));
  await writeFile(join(dir, 'truncated.xml.gz'), gzipSync(sample(`${YAHOO}.xml`)).subarray(0, 100));
  await writeFile(join(dir, 'not-a-report.json'), '{"hello": "world"}');
  await writeFile(join(dir, 'binary.bin'), Buffer.from([0, 1, 2, 3, 4, 5]));
});
test.after.always(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

const good = () => [join(dir, 'google.eml'), join(dir, `${YAHOO}.xml.gz`), join(dir, 'Maildir'), join(dir, `${TLS}.json.gz`)];

test.serial('the big receivers\' formats are read and summarised per organisation and per source IP', async (t) => {
  const r = await readReports(good(), LIMITS, ['example.test']);
  t.deepEqual(r.dmarc.map((d) => d.orgName).sort(), ['Enterprise Outlook', 'Yahoo', 'google.com']);
  t.is(r.tls.length, 1);
  t.deepEqual(r.skipped.map((s) => [s.source.replace(dir, ''), s.reason]), [['/Maildir/cur/1793580001.M2P1.mx:2,S', 'a message without a report attachment']]);
  const s = r.summary;
  t.deepEqual(s.total, { messages: 204, spfPass: 175, dkimPass: 189, dmarcPass: 189 });
  t.deepEqual(s.orgs.map((o) => [o.orgName, o.messages, o.dmarcPass]), [['google.com', 143, 134], ['Enterprise Outlook', 41, 37], ['Yahoo', 20, 18]]);
  t.deepEqual(s.failing.map((f) => [f.sourceIp, f.failed, f.orgs]), [['203.0.113.66', 11, ['Yahoo', 'google.com']], ['2001:db8:66::1', 4, ['Enterprise Outlook']]]);
  t.like(s.tls[0], { orgName: 'Google Inc.', policyDomain: 'example.test', successful: 412, failed: 3, failureTypes: { 'certificate-expired': 3 } });
});

test.serial('bad input is named with its reason and skipped; nothing crashes; good reports still count', async (t) => {
  const bad = ['malformed.xml', 'other-domain.xml', 'google-again.xml', 'bomb-lying.zip', 'bomb-declared.zip', 'bomb.xml.gz', 'bomb-nested.zip', 'many-entries.zip', 'huge.xml', 'huge-attachment.eml', 'truncated.xml.gz', 'not-a-report.json', 'binary.bin', 'does-not-exist.xml'];
  const r = await readReports([...good(), ...bad.map((b) => join(dir, b))], LIMITS, ['example.test']);
  t.is(r.dmarc.length, 3);
  const why = (name: string) => r.skipped.find((s) => s.source.includes(name))?.reason ?? '(not skipped)';
  t.regex(why('malformed.xml'), /malformed XML/);
  t.regex(why('other-domain.xml'), /not-ours\.test, which is not one of our domains/);
  t.regex(why('google-again.xml'), /duplicate of report 17935040123456789012 from google\.com/);
  t.regex(why('bomb-lying.zip'), /inflates beyond .*zip bomb/);
  t.regex(why('bomb-declared.zip'), /declares 3000000000 bytes uncompressed, above the limit/);
  t.regex(why('bomb.xml.gz'), /decompresses to more than 1048576 bytes/);
  t.regex(why('bomb-nested.zip'), /decompresses to more than 1048576 bytes/);
  t.regex(why('many-entries.zip'), /11 zip entries, more than the limit of 10/);
  t.regex(why('huge.xml'), /3145728 bytes, above the limit of 2097152/);
  t.regex(why('huge-attachment.eml'), /decompresses to more than/);
  t.regex(why('truncated.xml.gz'), /bad gzip data/);
  t.regex(why('not-a-report.json'), /not a TLS-RPT report/);
  t.regex(why('binary.bin'), /not XML, JSON, gzip, zip or a mail message/);
  t.regex(why('does-not-exist.xml'), /ENOENT/);
});

const HTML = () => join(OUTPUT, 'report-read.html');

test.serial('the CLI prints the summary and writes a self-contained HTML page', async (t) => {
  const cfg = join(dir, 'mailanchor.yml');
  await writeFile(cfg, `store:\n  path: ${join(dir, 'store.db')}\nreports:\n  domains: [example.test]\n  read:\n    max_file_size: 2097152\n    max_uncompressed_size: 1048576\n`);
  const c = captureIo(dir);
  const code = await run(['read', '--config', cfg, ...good(), 'malformed.xml', 'bomb.xml.gz', '--html', HTML()], c);
  const [stdout, stderr] = [c.out(), c.err()];
  t.log(stdout);
  t.is(code, 0, stderr);
  t.regex(stdout, /204 message\(s\): DMARC pass 92\.6%/);
  t.regex(stdout, /^google\.com\s+1\s+143\s+/m);
  t.regex(stdout, /^ {2}203\.0\.113\.66: 11 of 11 failed \(quarantine 11\)/m);
  t.regex(stdout, /TLS reports \(RFC 8460\):[\s\S]*certificate-expired 3/);
  t.regex(stdout, /malformed\.xml: malformed XML/);
  const html = await readFile(HTML(), 'utf8');
  t.notRegex(html, /<script|<link |src="http|href="http/i, 'no scripts, no external assets');
  t.regex(html, /<svg id="chart"/);
});

test.serial('a run where every input is unusable exits 65 with the reasons', async (t) => {
  const c = captureIo(dir);
  const code = await run(['read', join(dir, 'malformed.xml')], c);
  t.is(code, 65);
  t.regex(c.out(), /Skipped 1 input/);
});

const CHROMIUM = '/usr/bin/chromium';
const chromeTest = existsSync(CHROMIUM) ? test.serial : test.serial.skip;

function chromium(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(CHROMIUM, ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', ...args], { timeout: 60_000, maxBuffer: 20 * 1024 * 1024 }, (err, stdout, stderr) =>
      resolve({ code: err ? 1 : 0, stdout, stderr }),
    );
  });
}

chromeTest('the HTML page opens in headless Chromium and shows the chart (screenshot in test-output/)', async (t) => {
  t.true(existsSync(HTML()), 'the CLI test wrote the page');
  const png = join(OUTPUT, 'report-read.png');
  await rm(png, { force: true });
  const profile1 = await mkdtemp(join(tmpdir(), 'mailanchor-chromium-'));
  const profile2 = await mkdtemp(join(tmpdir(), 'mailanchor-chromium-'));
  try {
    const shot = await chromium([`--user-data-dir=${profile1}`, `--screenshot=${png}`, '--window-size=1200,900', `file://${HTML()}`]);
    t.true(existsSync(png), `no screenshot: ${shot.stderr.slice(-500)}`);
    const bytes = readFileSync(png);
    t.deepEqual([...bytes.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'a PNG');
    t.true(statSync(png).size > 20_000, `screenshot is only ${statSync(png).size} bytes`);
    t.is(bytes.readUInt32BE(16), 1200);
    const dom = await chromium([`--user-data-dir=${profile2}`, '--dump-dom', `file://${HTML()}`]);
    t.regex(dom.stdout, /<svg id="chart"/);
    const bars = dom.stdout.match(/<g class="bar" data-ip="[^"]+"/g) ?? [];
    t.is(bars.length, 4, 'one bar per source IP');
    const fail = /<g class="bar" data-ip="203\.0\.113\.66">[\s\S]*?<rect class="fail"[^>]*width="(\d+)"/.exec(dom.stdout);
    t.truthy(fail);
    t.true(Number(fail![1]) > 0, 'the failing source shows a red bar');
  } finally {
    await Promise.all([rm(profile1, { recursive: true, force: true }), rm(profile2, { recursive: true, force: true })]);
  }
});
