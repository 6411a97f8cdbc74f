/**
 * The reader on everything a mailbox holds: the big receivers' formats (Google's zip in a
 * mail, Microsoft's and Yahoo's .xml.gz, Google's TLS-RPT .json.gz), Maildir with
 * sub-folders, mbox, nested directories; and adversarial input: CRLF mails with long
 * header blocks (the old reader hung), gzip with trailing bytes and several members,
 * ZIP64 (written by Python's zipfile, an independent writer), zip bombs (declared, lying,
 * nested), invalid UTF-8, a report mailed twice, sloppy reports (empty org_name and
 * auth_results, upper-case Pass), files that are not reports — each named with its reason.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { AggregateHeader, AggregateRow, TlsReport } from '../../../src/reports/read/model.ts';
import { readBuffer, readPaths, type ReadOutcome, type ReportConsumer } from '../../../src/reports/read/reader.ts';
import { reportMail } from '../../support/dmarc-reports.ts';
import { makeZip } from '../zip-writer.ts';

const SAMPLES = new URL('../../fixtures/reports/samples/', import.meta.url).pathname;
const GOOGLE = 'google.com!example.test!1793491200!1793577599';
const OUTLOOK = 'enterprise.protection.outlook.com!example.test!1793491200!1793577600';
const YAHOO = 'yahoo.com!example.test!1793491200!1793577599';
const TLS = 'google.com!example.test!1793491200!1793577599!001';
const LIMITS = { maxFileSize: 8 * 1024 * 1024, maxUncompressedSize: 4 * 1024 * 1024, maxMessageSize: 2 * 1024 * 1024, maxZipEntries: 10 };
const sample = (name: string) => readFileSync(join(SAMPLES, name));

interface Collected {
  outcomes: ReadOutcome[];
  dmarc: { header: AggregateHeader; rows: AggregateRow[]; source: string }[];
  tls: TlsReport[];
}

/** A consumer that keeps everything (and the run's de-duplication is the page consumer's job, tested elsewhere). */
function collector(): { consumer: ReportConsumer; got: Collected } {
  const got: Collected = { outcomes: [], dmarc: [], tls: [] };
  return {
    got,
    consumer: {
      async dmarc(header, source) {
        const rows: AggregateRow[] = [];
        return {
          rows: async (b) => void rows.push(...b),
          commit: async () => void got.dmarc.push({ header, rows, source }),
          abort: async () => undefined,
        };
      },
      async tls(r) {
        got.tls.push(r);
      },
    },
  };
}

async function read(paths: string[]): Promise<Collected> {
  const { consumer, got } = collector();
  for await (const o of readPaths(paths, LIMITS, consumer)) got.outcomes.push(o);
  return got;
}

const reasonOf = (c: Collected, name: string) => {
  const o = c.outcomes.find((x) => x.source.includes(name));
  return o?.status === 'skipped' ? `${o.code}: ${o.reason}` : o ? `(read) ${o.status}` : '(not seen)';
};

let dir = '';
test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mailanchor-reader-'));
});
test.after.always(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('the big receivers\' formats, in a Maildir with a Maildir++ folder, nested directories and an mbox', async (t) => {
  const root = join(dir, 'formats');
  const maildir = join(root, 'Maildir');
  for (const sub of ['cur', 'new', 'tmp', '.Reports/cur', '.Reports/new', '.Reports/tmp']) mkdirSync(join(maildir, sub), { recursive: true });
  await writeFile(join(maildir, 'new', '1.M1.mx'), reportMail(makeZip([{ name: `${GOOGLE}.xml`, data: sample(`${GOOGLE}.xml`) }]), `${GOOGLE}.zip`, 'application/zip', 'Report domain: example.test Submitter: google.com'));
  await writeFile(join(maildir, '.Reports', 'cur', '2.M2.mx:2,S'), reportMail(gzipSync(sample(`${OUTLOOK}.xml`)), `${OUTLOOK}.xml.gz`, 'application/gzip', 'Report Domain: example.test'));
  await writeFile(join(maildir, 'tmp', '3.M3.mx'), 'half-delivered: never read');
  await writeFile(join(maildir, 'dovecot-uidlist'), '3 V1 N4\n');
  mkdirSync(join(root, 'a', 'b', 'c'), { recursive: true });
  await writeFile(join(root, 'a', 'b', 'c', `${YAHOO}.xml.gz`), gzipSync(sample(`${YAHOO}.xml`)));
  await writeFile(join(root, 'a', `${TLS}.json.gz`), gzipSync(sample(`${TLS}.json`)));
  // mbox (mboxrd): the second message's body has a quoted ">From " line.
  const tlsMail = reportMail(gzipSync(sample(`${TLS}.json`)), `${TLS}.json.gz`, 'application/tlsrpt+gzip', 'Report Domain: example.test TLS').toString('latin1').replace('This is an aggregate report.', '>From the TLS reporter, with love');
  await writeFile(join(root, 'archive.mbox'), `From MAILER-DAEMON Mon Nov  2 01:02:03 2026\n${'Subject: hello\nFrom: a@b.test\n\nno report here\n'}\nFrom google Mon Nov  2 01:02:04 2026\n${tlsMail.replace(/\r\n/g, '\n')}\n`);
  const c = await read([root]);
  const read_ = c.outcomes.filter((o) => o.status === 'read').map((o) => o.source.replace(root, ''));
  t.deepEqual(read_.sort(), [
    `/Maildir/.Reports/cur/2.M2.mx:2,S:${OUTLOOK}.xml.gz`,
    `/Maildir/new/1.M1.mx:${GOOGLE}.zip:${GOOGLE}.xml`,
    `/a/b/c/${YAHOO}.xml.gz`,
    `/a/${TLS}.json.gz`,
    `/archive.mbox#2:${TLS}.json.gz`,
  ]);
  t.deepEqual(c.outcomes.filter((o) => o.status === 'skipped').map((o) => `${o.source.replace(root, '')} ${o.status === 'skipped' ? o.reason : ''}`), ['/archive.mbox#1 a message without a report attachment']);
  const byOrg = Object.fromEntries(c.dmarc.map((d) => [d.header.orgName, d.rows.reduce((n, r) => n + r.count, 0)]));
  t.deepEqual(byOrg, { 'google.com': 143, 'Enterprise Outlook': 41, Yahoo: 20 });
  t.is(c.tls.length, 2);
  t.like(c.tls[0]!.policies[0], { policyDomain: 'example.test', successfulSessions: 412, failedSessions: 3 });
  const outlook = c.dmarc.find((d) => d.header.orgName === 'Enterprise Outlook')!;
  t.true(outlook.rows.some((r) => r.sourceIp === '2001:db8:66::1'), 'IPv6 in canonical form');
});

test('CRLF mail with long header blocks is read in linear time (the old detector backtracked for 60 s)', async (t) => {
  const att = gzipSync(sample(`${YAHOO}.xml`));
  const cases: [string, number][] = [['44x60', 44], ['2000x60', 2000], ['16000x60', 16000]];
  for (const [name, n] of cases) {
    const headers = Array.from({ length: n }, (_, i) => `X-Long-Header-${String(i).padStart(5, '0')}: ${'v'.repeat(38)}`);
    const mail = reportMail(att, `${YAHOO}.xml.gz`, 'application/gzip', 'Report Domain: example.test', headers);
    const started = performance.now();
    const { consumer, got } = collector();
    for await (const o of readBuffer(name, mail, { ...LIMITS, maxMessageSize: 8 * 1024 * 1024 }, consumer)) got.outcomes.push(o);
    const ms = performance.now() - started;
    t.log(`${name}: ${mail.length} bytes, ${ms.toFixed(0)} ms`);
    t.is(got.dmarc.length, 1, name);
    t.true(ms < 5000, `${name} took ${ms} ms`);
  }
});

test('gzip: trailing bytes after the member are ignored with a warning; several members are one stream; corrupt data is named', async (t) => {
  const xml = sample(`${YAHOO}.xml`);
  const half = Math.floor(xml.length / 2);
  await writeFile(join(dir, 'trailing-crlf.xml.gz'), Buffer.concat([gzipSync(xml), Buffer.from('\r\n')]));
  await writeFile(join(dir, 'trailing-junk.xml.gz'), Buffer.concat([gzipSync(xml), Buffer.from('-- end of attachment --\n')]));
  await writeFile(join(dir, 'padded.xml.gz'), Buffer.concat([gzipSync(xml), Buffer.alloc(512)]));
  await writeFile(join(dir, 'members.xml.gz'), Buffer.concat([gzipSync(xml.subarray(0, half)), gzipSync(xml.subarray(half))]));
  const bad = gzipSync(xml);
  bad[bad.length - 6] = bad[bad.length - 6]! ^ 0xff; // CRC
  await writeFile(join(dir, 'bad-crc.xml.gz'), bad);
  await writeFile(join(dir, 'truncated.xml.gz'), gzipSync(xml).subarray(0, 200));
  const c = await read(['trailing-crlf', 'trailing-junk', 'padded', 'members', 'bad-crc', 'truncated'].map((n) => join(dir, `${n}.xml.gz`)));
  const o = (n: string) => c.outcomes.find((x) => x.source.endsWith(`${n}.xml.gz`))!;
  for (const n of ['trailing-crlf', 'trailing-junk', 'padded', 'members']) t.is(o(n).status, 'read', n);
  const warnings = (n: string) => {
    const x = o(n);
    return x.status === 'read' ? x.warnings : undefined;
  };
  t.deepEqual(warnings('trailing-crlf'), ['2 byte(s) after the end of the gzip data ignored (as gunzip does)']);
  t.deepEqual(warnings('trailing-junk'), ['24 byte(s) after the end of the gzip data ignored (as gunzip does)']);
  t.deepEqual(warnings('padded'), [], 'zero padding is silent');
  t.regex(reasonOf(c, 'bad-crc'), /^UNREADABLE: bad gzip data: CRC-32 or length does not match/);
  t.regex(reasonOf(c, 'truncated'), /^UNREADABLE: bad gzip data: unexpected end of file/);
  // Every good variant gives the same rows.
  t.true(c.dmarc.every((d) => d.rows.length === c.dmarc[0]!.rows.length));
});

const PYTHON = '/usr/bin/python3';

test('ZIP64 archives written by Python\'s zipfile are read; zip bombs stop before or while inflating', async (t) => {
  const xml = join(dir, `${GOOGLE}.xml`);
  await writeFile(xml, sample(`${GOOGLE}.xml`));
  const z64 = join(dir, 'zip64.zip');
  execFileSync(PYTHON, ['-c', 'import sys,zipfile\nwith zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:\n  with z.open("report.xml", "w", force_zip64=True) as f: f.write(open(sys.argv[2], "rb").read())', z64, xml]);
  // The archive really is ZIP64: its local header carries the zip64 extra field (0x0001).
  t.true(readFileSync(z64).includes(Buffer.from([0x01, 0x00, 0x10, 0x00])), 'zip64 extra field present');
  const zeros = Buffer.alloc(8 * 1024 * 1024);
  await writeFile(join(dir, 'bomb-lying.zip'), makeZip([{ name: 'report.xml', data: zeros, declaredSize: 1000 }]));
  await writeFile(join(dir, 'bomb-declared.zip'), makeZip([{ name: 'report.xml', data: Buffer.from('<feedback/>'), declaredSize: 3_000_000_000 }]));
  await writeFile(join(dir, 'bomb.xml.gz'), gzipSync(zeros));
  await writeFile(join(dir, 'bomb-nested.zip'), makeZip(Array.from({ length: 6 }, (_, i) => ({ name: `r${i}.xml.gz`, data: gzipSync(Buffer.alloc(900 * 1024, 0x20)), store: true }))));
  await writeFile(join(dir, 'many.zip'), makeZip(Array.from({ length: 11 }, (_, i) => ({ name: `r${i}.xml`, data: Buffer.from('<feedback/>') }))));
  await writeFile(join(dir, 'bomb-in-mail.eml'), reportMail(gzipSync(zeros), 'big.xml.gz', 'application/gzip', 'Report'));
  const started = performance.now();
  const c = await read(['zip64.zip', 'bomb-lying.zip', 'bomb-declared.zip', 'bomb.xml.gz', 'bomb-nested.zip', 'many.zip', 'bomb-in-mail.eml'].map((n) => join(dir, n)));
  t.log(`bombs refused in ${(performance.now() - started).toFixed(0)} ms`);
  t.is(c.outcomes.find((o) => o.source.includes('zip64.zip'))?.status, 'read');
  t.is(c.dmarc[0]?.rows.reduce((n, r) => n + r.count, 0), 143);
  t.regex(reasonOf(c, 'bomb-lying.zip'), /^TOO_LARGE: inflates beyond its declared size \(zip bomb\?\)/);
  t.regex(reasonOf(c, 'bomb-declared.zip'), /^TOO_LARGE: declares 3000000000 bytes uncompressed/);
  t.regex(reasonOf(c, 'bomb.xml.gz'), /^TOO_LARGE: decompresses to more than 4194304 bytes/);
  t.regex(reasonOf(c, 'bomb-nested.zip:r4.xml.gz'), /^TOO_LARGE: decompresses to more than 4194304 bytes/);
  t.regex(reasonOf(c, 'many.zip'), /^TOO_LARGE: 11 zip entries, more than the limit of 10/);
  t.regex(reasonOf(c, 'bomb-in-mail.eml'), /^TOO_LARGE: decompresses to more than/);
});

test('sloppy real-world reports are read with warnings; broken ones are named; a report read twice is the consumer\'s to refuse', async (t) => {
  const base = sample(`${YAHOO}.xml`).toString('utf8');
  const variants: Record<string, string> = {
    'empty-org.xml': base.replace(/<org_name>[^<]*<\/org_name>/, '<org_name></org_name>'),
    'empty-auth.xml': base.replace(/<auth_results>[\s\S]*?<\/auth_results>/g, '<auth_results></auth_results>'),
    'upper-pass.xml': base.replace(/<dkim>pass<\/dkim>/g, '<dkim>Pass</dkim>').replace(/<spf>pass<\/spf>/g, '<spf>PASS</spf>'),
    'unknown-tags.xml': base.replace('<policy_published>', '<policy_published><x-vendor>1</x-vendor>').replace(/<row>/g, '<row><extension><a>b</a></extension>'),
    'not-feedback.xml': '<?xml version="1.0"?><html><body>nope</body></html>',
    'malformed.xml': base.replace('</report_metadata>', '</report_metadat>'),
    'no-range.xml': base.replace(/<date_range>[\s\S]*?<\/date_range>/, ''),
    'not-a-report.json': '{"hello": "world"}',
    'binary.bin': '\u0000\u0001\u0002\u0003',
  };
  for (const [n, text] of Object.entries(variants)) await writeFile(join(dir, n), text);
  // Invalid UTF-8 in a value (parsedmarc's sample has such a header_from).
  await writeFile(join(dir, 'bad-utf8.xml'), Buffer.concat([Buffer.from(base.slice(0, base.indexOf('</header_from>'))), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from(base.slice(base.indexOf('</header_from>')))]));
  const c = await read([...Object.keys(variants), 'bad-utf8.xml'].map((n) => join(dir, n)));
  const got = (n: string) => c.outcomes.find((o) => o.source.endsWith(`/${n}`))!;
  const ok = (n: string) => {
    const o = got(n);
    t.is(o.status, 'read', `${n}: ${o.status === 'skipped' ? o.reason : ''}`);
    return o.status === 'read' && o.kind === 'dmarc' ? o : undefined;
  };
  t.deepEqual(ok('empty-org.xml')?.warnings, ['empty <org_name>: reporter named yahooinc.com']);
  t.is(ok('empty-org.xml')?.header.orgName, 'yahooinc.com');
  t.deepEqual(ok('empty-auth.xml')?.warnings, []);
  t.deepEqual(ok('unknown-tags.xml')?.warnings, []);
  ok('upper-pass.xml');
  const rowsOf = (n: string) => c.dmarc.find((d) => d.source.endsWith(`/${n}`))!.rows.map((r) => `${r.sourceIp} ${r.dkim} ${r.spf}`);
  t.deepEqual(rowsOf('upper-pass.xml'), rowsOf('empty-auth.xml'), '`Pass` and `PASS` read as pass');
  t.true(rowsOf('upper-pass.xml').some((r) => r.endsWith('pass pass')));
  t.regex(ok('bad-utf8.xml')?.warnings.join() ?? '', /invalid byte sequence\(s\) for utf-8 replaced by U\+FFFD/);
  t.regex(reasonOf(c, 'not-feedback.xml'), /^NOT_A_REPORT: XML whose root is <html>/);
  t.regex(reasonOf(c, 'malformed.xml'), /^UNREADABLE: malformed XML: 11:19: unexpected close tag/);
  t.regex(reasonOf(c, 'no-range.xml'), /^NOT_A_REPORT: <date_range><begin> missing/);
  t.regex(reasonOf(c, 'not-a-report.json'), /^NOT_A_REPORT: JSON but not a TLS report/);
  t.regex(reasonOf(c, 'binary.bin'), /^NOT_A_REPORT: not XML, JSON, gzip, zip, a mail message or an mbox file/);
  const missing = await read([join(dir, 'does-not-exist.xml')]);
  t.regex(reasonOf(missing, 'does-not-exist'), /^UNREADABLE: ENOENT/);
});

test('a consumer\'s own failure (the store) ends the run instead of marking the report unreadable', async (t) => {
  const consumer: ReportConsumer = {
    dmarc: async () => {
      throw new Error('disk full');
    },
    tls: async () => {},
  };
  await writeFile(join(dir, 'ok.xml'), sample(`${YAHOO}.xml`));
  const run = async () => {
    for await (const _ of readPaths([join(dir, 'ok.xml')], LIMITS, consumer)) void _;
  };
  await t.throwsAsync(run, { name: 'ConsumerFailure', message: /disk full/ });
});
