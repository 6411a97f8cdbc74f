/**
 * `report import` against a real IMAP server: a private Dovecot on loopback
 * (test/support/dovecot.ts) holding report mails as Google, Microsoft and a TLS reporter send
 * them, a report mailed twice, a CRLF mail with a long header block and a mail that is not a
 * report. The import stores each report once, moves report mail to the processed folder and
 * the rest to the unused folder; a second run imports nothing new; a bad password is a
 * temporary failure (exit 75) that touches nothing.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { chmodSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { ImapFlow } from 'imapflow';
import { run } from '../../../src/cli/report.ts';
import { captureIo } from '../../support/cli-io.ts';
import { month, reportMail, reportXml } from '../../support/dmarc-reports.ts';
import { parseAggregate } from '../../../src/reports/read/aggregate-parser.ts';
import { dovecotMissing, folderCounts as countFolders, imapClient, startDovecot, type DovecotServer } from '../../support/dovecot.ts';
import { openTestStore } from '../../support/store.ts';
import { makeZip } from '../zip-writer.ts';

const missing = dovecotMissing();
const it = missing ? test.serial.skip : test.serial;
if (missing) test.skip(`IMAP import needs Dovecot: ${missing}`, () => {});

const SAMPLES = new URL('../../fixtures/reports/samples/', import.meta.url).pathname;
const GOOGLE = 'google.com!example.test!1793491200!1793577599';
const OUTLOOK = 'enterprise.protection.outlook.com!example.test!1793491200!1793577600';
const YAHOO = 'yahoo.com!example.test!1793491200!1793577599';
const TLS = 'google.com!example.test!1793491200!1793577599!001';
const sample = (n: string) => readFileSync(join(SAMPLES, n));

let imap: DovecotServer | undefined;
let dir = '';
let cfg = '';

const client = (): Promise<ImapFlow> => imapClient(imap!, 'dmarc', 'secret');
const folderCounts = (): Promise<Record<string, number>> => countFolders(imap!, 'dmarc', 'secret');

async function importRun(config = cfg): Promise<{ code: number; out: string; err: string }> {
  const io = captureIo(dir);
  const code = await run(['import', '--config', config], io);
  return { code, out: io.out(), err: io.err() };
}

test.before(async () => {
  if (missing) return;
  imap = await startDovecot({ users: [{ user: 'dmarc', password: 'secret' }] });
  dir = await mkdtemp(join(tmpdir(), 'mailanchor-imap-import-'));
  await writeFile(join(dir, 'imap-password'), 'secret\n', { mode: 0o600 });
  await writeFile(join(dir, 'wrong-password'), 'nope\n', { mode: 0o600 });
  const yaml = (pw: string) => `store:\n  path: ${join(dir, 'store.db')}\nreports:\n  domains: [example.test]\n  import:\n    imap:\n      host: 127.0.0.1:${imap!.port}\n      tls: none\n      user: dmarc\n      password_file: ${join(dir, pw)}\n      timeout: 10s\n`;
  cfg = join(dir, 'mailanchor.yml');
  await writeFile(cfg, yaml('imap-password'));
  await writeFile(join(dir, 'wrong.yml'), yaml('wrong-password'));
  const google = reportMail(makeZip([{ name: `${GOOGLE}.xml`, data: sample(`${GOOGLE}.xml`) }]), `${GOOGLE}.zip`, 'application/zip', 'Report domain: example.test Submitter: google.com Report-ID: 1');
  const c = await client();
  try {
    await c.append('INBOX', google);
    await c.append('INBOX', reportMail(gzipSync(sample(`${OUTLOOK}.xml`)), `${OUTLOOK}.xml.gz`, 'application/gzip', 'Report Domain: example.test Submitter: protection.outlook.com'));
    await c.append('INBOX', reportMail(gzipSync(sample(`${TLS}.json`)), `${TLS}.json.gz`, 'application/tlsrpt+gzip', 'Report Domain: example.test Submitter: google.com TLS'));
    await c.append('INBOX', google); // mailed twice
    const longHeaders = Array.from({ length: 44 }, (_, i) => `X-Relay-${String(i).padStart(2, '0')}: ${'r'.repeat(48)}`);
    await c.append('INBOX', reportMail(gzipSync(sample(`${YAHOO}.xml`)), `${YAHOO}.xml.gz`, 'application/gzip', 'Report Domain: example.test Submitter: yahoo.com', longHeaders));
    await c.append('INBOX', Buffer.from('From: someone@example.test\r\nTo: dmarc@example.test\r\nSubject: hello\r\n\r\nNot a report.\r\n'));
  } finally {
    await c.logout();
  }
});

test.after.always(async () => {
  await imap?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

it('a wrong password is a temporary failure that leaves every message in place', async (t) => {
  const r = await importRun(join(dir, 'wrong.yml'));
  t.is(r.code, 75, r.out + r.err);
  t.regex(r.err, /cannot log in to 127\.0\.0\.1:\d+ as dmarc/);
  t.is((await folderCounts()).INBOX, 6);
});

it('import stores each report once and moves every message; a second run imports nothing new', async (t) => {
  const first = await importRun();
  t.log(first.out);
  t.is(first.code, 0, first.err);
  t.regex(first.out, /^stored DMARC report 17935040123456789012 from google\.com for example\.test: \d+ record\(s\), 143 message\(s\)$/m);
  t.regex(first.out, /^duplicate imap:INBOX\/4:google\.com!example\.test!1793491200!1793577599\.zip:google\.com!example\.test!1793491200!1793577599\.xml: report 17935040123456789012 from google\.com is already stored/m);
  t.regex(first.out, /^skipped imap:INBOX\/6: a message without a report attachment$/m);
  t.regex(first.out, /^INBOX: 6 message\(s\), 5 to Reports\/Processed, 1 to Reports\/Unused$/m);
  t.regex(first.out, /^4 report\(s\) stored, 1 already known$/m);
  t.like(await folderCounts(), { INBOX: 0, 'Reports/Processed': 5, 'Reports/Unused': 1 });
  const store = await openTestStore(join(dir, 'store.db'));
  try {
    t.like(await store.received.counts(), { dmarcReports: 3, tlsReports: 1 });
  } finally {
    await store.close();
  }
  const second = await importRun();
  t.is(second.code, 0, second.err);
  t.regex(second.out, /^INBOX: 0 message\(s\), 0 to Reports\/Processed, 0 to Reports\/Unused$/m);
  t.regex(second.out, /^0 report\(s\) stored, 0 already known$/m);
  // The same report arriving again later is recognised from the store and filed away.
  const c = await client();
  try {
    const lock = await c.getMailboxLock('Reports/Processed');
    try {
      await c.messageCopy('1', 'INBOX', { uid: true });
    } finally {
      lock.release();
    }
  } finally {
    await c.logout();
  }
  const third = await importRun();
  t.regex(third.out, /^0 report\(s\) stored, 1 already known$/m);
  t.is((await folderCounts()).INBOX, 0);
});

it('a report another import is storing right now (another host on the same mailbox): its message stays for the next run, then is filed as known', async (t) => {
  const r = month({ domain: 'example.test', start: 1_793_491_200 + 86_400, days: 1, seed: 41 })[0]!;
  const xml = reportXml(r);
  const parsed = parseAggregate(xml);
  const store = await openTestStore(join(dir, 'store.db'));
  try {
    const claim = await store.received.beginDmarc(parsed.header, { source: 'imap:INBOX/7 on host b', importedAt: Date.now() });
    if (claim.kind !== 'new') return t.fail(claim.kind);
    await claim.sink.rows(parsed.rows.slice(0, 1)); // host b is half-way through
    const c = await client();
    try {
      await c.append('INBOX', reportMail(gzipSync(xml), `${r.reportId}.xml.gz`, 'application/gzip', `Report Domain: example.test Submitter: ${r.org}`));
    } finally {
      await c.logout();
    }
    const during = await importRun();
    t.is(during.code, 0, during.err);
    t.regex(during.out, /^in progress elsewhere imap:INBOX\/\d+:.*: report \S+ from .* is being stored by another import \(started .* from imap:INBOX\/7 on host b\); left for the next run$/m);
    t.regex(during.out, /^INBOX: 1 message\(s\), 0 to Reports\/Processed, 0 to Reports\/Unused, 1 left for the next run$/m);
    t.regex(during.out, /^0 report\(s\) stored, 0 already known, 1 being stored by another import$/m);
    t.is((await folderCounts()).INBOX, 1, 'not filed while it is not stored: host b may still fail');
    await claim.sink.rows(parsed.rows.slice(1));
    await claim.sink.commit(parsed.stats, []);
  } finally {
    await store.close();
  }
  const after = await importRun();
  t.regex(after.out, /^0 report\(s\) stored, 1 already known$/m);
  t.is((await folderCounts()).INBOX, 0);
});

it('STARTTLS: a certificate we do not trust fails the run (nothing moved, no clear-text fallback); with our CA file the login goes over TLS and imports', async (t) => {
  const cert = join(dir, 'imap-cert.pem');
  const key = join(dir, 'imap-key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-days', '2', '-keyout', key, '-out', cert], { stdio: 'ignore' });
  chmodSync(key, 0o644); // read by Dovecot's config process, which drops root
  chmodSync(dir, 0o755);
  const secure = await startDovecot({ users: [{ user: 'dmarc', password: 'secret' }], tls: { certFile: cert, keyFile: key } });
  try {
    const c = new ImapFlow({ host: '127.0.0.1', port: secure.port, secure: false, doSTARTTLS: true, tls: { ca: readFileSync(cert) }, auth: { user: 'dmarc', pass: 'secret' }, logger: false });
    c.on('error', () => {});
    await c.connect();
    await c.append('INBOX', reportMail(gzipSync(sample(`${YAHOO}.xml`)), `${YAHOO}.xml.gz`, 'application/gzip', 'Report Domain: example.test Submitter: yahoo.com'));
    await c.logout();
    const yaml = (tls: string, extra = '') => `store:\n  path: ${join(dir, 'tls-store.db')}\nreports:\n  domains: [example.test]\n  import:\n    imap:\n      host: 127.0.0.1:${secure.port}\n      tls: ${tls}\n${extra}      user: dmarc\n      password_file: ${join(dir, 'imap-password')}\n      timeout: 10s\n`;
    await writeFile(join(dir, 'untrusted.yml'), yaml('starttls'));
    await writeFile(join(dir, 'starttls.yml'), yaml('starttls', `      ca_file: ${cert}\n`));
    const logins = async () => ((await secure.logs()).match(/imap-login: Info: Login: user=<dmarc>, method=PLAIN, .*\bTLS\b/g) ?? []).length;
    const before = await logins(); // the test's own client, appending the report
    const untrusted = await importRun(join(dir, 'untrusted.yml'));
    t.is(untrusted.code, 75, 'a certificate we do not trust is a failure, not a fallback to clear text');
    t.regex(untrusted.err, /cannot log in to 127\.0\.0\.1:\d+ as dmarc: .*(self-signed|certificate)/i);
    t.is(await logins(), before, 'no login happened');
    t.regex(await secure.logs(), /TLS handshaking: Connection closed/);
    const ok = await importRun(join(dir, 'starttls.yml'));
    t.is(ok.code, 0, ok.err);
    t.regex(ok.out, /^stored DMARC report \S+ from Yahoo for example\.test: 2 record\(s\), 20 message\(s\)$/m);
    t.regex(ok.out, /^INBOX: 1 message\(s\), 1 to Reports\/Processed, 0 to Reports\/Unused$/m);
    // Dovecot marks a login over TLS with ", TLS," (a loopback login in clear says "secured").
    t.is(await logins(), before + 1, 'our login went over TLS');
  } finally {
    await secure.stop();
  }
});
