/**
 * Through a private real Postfix to smtp-sink: `report send` with `transport: sendmail`
 * (Postfix's `sendmail -C DIR`) — the report arrives with the RFC 9990 headers and a gzip
 * attachment that decompresses to XML valid against the RFC 9990 schema (xmllint).
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { reportsSection } from '../../src/reports/config.ts';
import { mimeParts } from '../../src/reports/read/mime.ts';
import { runSendJob } from '../../src/reports/send-job.ts';
import { sendmailTransport } from '../../src/reports/transport.ts';
import { openTestStore, writeEvaluations } from '../support/store.ts';
import { fakeLookup } from '../support/fake-dns.ts';
import { DAY, evaluation, spoofed, T0 } from './evaluations.ts';
import { postfixMissing, startPostfixRelay, type PostfixRelay } from './postfix-relay.ts';
import { smtpSinkMissing, startSmtpSink, type SmtpSink } from '../support/smtp-sink.ts';

const XSD = new URL('../fixtures/reports/rfc9990-dmarc-2.0.xsd', import.meta.url).pathname;
const missing = postfixMissing() ?? smtpSinkMissing() ?? (existsSync('/usr/bin/xmllint') ? undefined : 'xmllint missing');
const it = missing ? test.skip : test;
if (missing) test.skip(`delivery through Postfix: ${missing}`, () => {});

let sink: SmtpSink | undefined;
let postfix: PostfixRelay | undefined;
let dir = '';
test.before(async () => {
  if (missing) return;
  dir = await mkdtemp(join(tmpdir(), 'mailanchor-pfdeliv-'));
  sink = await startSmtpSink();
  postfix = await startPostfixRelay(sink.port);
});
test.after.always(async () => {
  await postfix?.stop();
  await sink?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

it('a report goes through Postfix sendmail to the relay with the right headers and a valid gzip XML attachment', async (t) => {
  const db = await openTestStore(join(dir, 'store.db'));
  await writeEvaluations(db, [evaluation()]);
  await writeEvaluations(db, [spoofed()]);
  const config = reportsSection({ settle: '0s', org_name: 'Anchor', email: 'dmarc-reports@anchor.test', submitter: 'anchor.test' }, 'reports', []);
  const transport = sendmailTransport('/usr/sbin/sendmail', postfix!.sendmailArgs);
  const events = await runSendJob({ evaluations: db.evaluations, ledger: db.ledger, config, dns: fakeLookup({}), transport, now: () => T0 + DAY });
  t.deepEqual(events.map((e) => e.kind), ['generated', 'sent']);
  t.is((await db.ledger.listDeliveries())[0]!.state, 'sent');
  t.log(await postfix!.waitDelivered('dmarc@example.test'));

  const msgs = await sink!.messages();
  t.is(msgs.length, 1);
  const m = msgs[0]!;
  t.is(m.rcpt, 'dmarc@example.test');
  t.is(m.mailFrom, 'dmarc-reports@anchor.test');
  const report = (await db.ledger.listReports())[0]!;
  const head = m.raw.toString('latin1').split(/\r?\n\r?\n/)[0]!.replace(/\r?\n[ \t]+/g, ' ');
  t.regex(head, new RegExp(`^Subject: Report Domain: example\\.test Submitter: anchor\\.test Report-ID: <${report.reportId.replace(/\./g, '\\.')}>$`, 'm'));
  t.regex(head, /^From: dmarc-reports@anchor\.test$/m);
  t.regex(head, /^To: dmarc@example\.test$/m);
  t.regex(head, new RegExp(`^Message-ID: <${report.reportId.replace(/\./g, '\\.')}>$`, 'mi'));
  t.regex(head, /^Received: by mx\.anchor\.test \(Postfix, /m, 'it really went through Postfix');
  const att = mimeParts(m.raw, 'sink').find((p) => p.contentType === 'application/gzip');
  t.is(att?.fileName, report.fileName);
  t.regex(report.fileName, /^anchor\.test!example\.test!\d+!\d+!\w+\.xml\.gz$/);
  const xml = gunzipSync(att!.data).toString('utf8');
  const file = join(dir, 'received.xml');
  await writeFile(file, xml);
  const lint = await new Promise<{ code: number; out: string }>((resolve) =>
    execFile('/usr/bin/xmllint', ['--noout', '--schema', XSD, file], (err, o, e) => resolve({ code: err ? 1 : 0, out: `${o}${e}` })),
  );
  t.is(lint.code, 0, lint.out);
  t.regex(lint.out, /validates/);
  await db.close();
});
