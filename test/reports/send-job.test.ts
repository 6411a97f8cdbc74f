/**
 * The report job end to end on a real SQLite store, with our SMTP client handing reports to
 * Postfix's smtp-sink: MTA down → nothing sent, next run sends once; two runs never send
 * twice; suppression, size limits, non-mailto URIs, permanent rejections, dry run and a
 * half-written store row. DNS is a declarative fake here (the Knot test covers real DNS).
 */
import test from 'ava';
import { writeFileSync, chmodSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { DatabaseSync } from 'node:sqlite';
import { reportsSection, type ReportsConfig } from '../../src/reports/config.ts';
import { mimeParts } from '../../src/reports/read/mime.ts';
import { runSendJob, type SendEvent } from '../../src/reports/send-job.ts';
import { smtpTransport } from '../../src/reports/smtp-client.ts';
import { sendmailTransport } from '../../src/reports/transport.ts';
import type { Store } from '../../src/store/store.ts';
import { openTestStore, writeEvaluations } from '../support/store.ts';
import { fakeLookup } from '../support/fake-dns.ts';
import { freePort } from '../support/ports.ts';
import { DAY, evaluation, policy, spoofed, T0 } from './evaluations.ts';
import { smtpSinkMissing, startSmtpSink, type SmtpSink } from '../support/smtp-sink.ts';

const missing = smtpSinkMissing();
const it = missing ? test.serial.skip : test.serial;
if (missing) test.skip(`report delivery through smtp-sink: ${missing}`, () => {});

let dir = '';
const sinks: SmtpSink[] = [];
test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mailanchor-send-'));
});
test.after.always(async () => {
  await Promise.all(sinks.map((s) => s.stop()));
  if (dir) await rm(dir, { recursive: true, force: true });
});

let n = 0;
function store(): Promise<Store> {
  return openTestStore(join(dir, `store-${++n}.db`));
}

/** The test's own second connection to the SQLite file, to plant rows the store would never write. */
const raw = (db: Store): DatabaseSync => new DatabaseSync(db.location);
const ports = (db: Store) => ({ evaluations: db.evaluations, ledger: db.ledger });

function config(over: Record<string, unknown> = {}): ReportsConfig {
  const issues: { path: string; message: string }[] = [];
  // settle 0: these runs come right at the period end (the fleet test covers the settle time).
  const c = reportsSection({ settle: '0s', org_name: 'Anchor Test', email: 'dmarc-reports@anchor.test', submitter: 'anchor.test', ...over }, 'reports', issues);
  if (issues.length) throw new Error(JSON.stringify(issues));
  return c;
}

const dns = fakeLookup({ 'example.test': { TXT: ['v=spf1 -all'] } });
const kinds = (ev: SendEvent[]) => ev.map((e) => e.kind);

it('MTA down during a run: nothing marked sent; the next run sends once; a third run sends nothing', async (t) => {
  const db = await store();
  await writeEvaluations(db, [evaluation()]);
  await writeEvaluations(db, [spoofed()]);
  const port = await freePort(); // nothing listens yet: connection refused
  const transport = smtpTransport({ host: '127.0.0.1', port, helo: 'anchor.test', timeoutMs: 5000 });
  const c = config();
  const now = () => T0 + DAY + 60_000;

  const first = await runSendJob({ ...ports(db), config: c, dns, transport, now });
  t.deepEqual(kinds(first), ['generated', 'deferred']);
  t.regex((first[1] as { reason: string }).reason, /ECONNREFUSED|connect/);
  t.deepEqual((await db.ledger.listDeliveries()).map((d) => [d.state, d.attempts, d.sentAt]), [['pending', 1, null]]);

  const sink = await startSmtpSink(port);
  sinks.push(sink);
  const second = await runSendJob({ ...ports(db), config: c, dns, transport, now: () => now() + 3_600_000 });
  t.deepEqual(kinds(second), ['sent']);
  t.deepEqual((await db.ledger.listDeliveries()).map((d) => [d.state, d.attempts]), [['sent', 2]]);

  const third = await runSendJob({ ...ports(db), config: c, dns, transport, now: () => now() + 7_200_000 });
  t.deepEqual(kinds(third), []);
  const msgs = await sink.messages();
  t.is(msgs.length, 1, 'exactly one message reached the MTA');
  t.is(msgs[0]!.rcpt, 'dmarc@example.test');
  t.is(msgs[0]!.mailFrom, 'dmarc-reports@anchor.test');
  const report = (await db.ledger.listReports())[0]!;
  const raw = msgs[0]!.raw.toString('latin1');
  t.regex(raw.replace(/\r?\n[ \t]+/g, ' '), new RegExp(`^Subject: Report Domain: example\\.test Submitter: anchor\\.test Report-ID: <${report.reportId.replace(/\./g, '\\.')}>`, 'm'));
  const att = mimeParts(msgs[0]!.raw, 'sink').find((p) => p.contentType === 'application/gzip');
  t.is(att?.fileName, report.fileName);
  const xml = gunzipSync(att!.data).toString('utf8');
  t.regex(xml, /<count>1<\/count>/);
  t.regex(xml, /<source_ip>203\.0\.113\.66<\/source_ip>/);
  await db.close();
});

it('several rua URIs, suppression (config and store), size limit, non-mailto and bad URIs each get a reason', async (t) => {
  const sink = await startSmtpSink();
  sinks.push(sink);
  const db = await store();
  const rua = ['mailto:dmarc@example.test', 'mailto:agg@example.test!1k', 'https://example.test/report', 'mailto:blocked@example.test', 'mailto:x@sub.example.test', 'mailto:not an address'];
  await writeEvaluations(db, [evaluation({ policy: policy('example.test', { rua }) })]);
  const c = config({ suppress: ['blocked@example.test'] });
  raw(db).prepare("INSERT INTO dmarc_report_suppressions (entry, reason, added_at) VALUES ('sub.example.test', 'test', 0)").run();
  const ev = await runSendJob({ ...ports(db), config: c, dns, transport: smtpTransport({ host: '127.0.0.1', port: sink.port, helo: 'anchor.test', timeoutMs: 5000 }), now: () => T0 + DAY });
  const byAddr = Object.fromEntries((await db.ledger.listDeliveries()).map((d) => [d.address, [d.state, d.reason ?? '']])) as Record<string, [string, string]>;
  t.is(byAddr['dmarc@example.test']![0], 'sent');
  t.deepEqual(byAddr['agg@example.test']![0], 'skipped');
  t.regex(byAddr['agg@example.test']![1], /above the destination's limit of 1024/);
  t.regex(byAddr['https://example.test/report']![1], /only mailto/);
  t.regex(byAddr['blocked@example.test']![1], /suppressed/);
  t.regex(byAddr['x@sub.example.test']![1], /suppressed \(sub\.example\.test\)/);
  t.regex(byAddr['mailto:not an address']![1], /malformed/);
  t.is(ev.filter((e) => e.kind === 'sent').length, 1);
  t.deepEqual((await sink.messages()).map((m) => m.rcpt), ['dmarc@example.test']);
  await db.close();
});

it('a sendmail program: exit 0 is accepted; EX_TEMPFAIL defers; EX_NOUSER counts bounces up to suppression', async (t) => {
  const db = await store();
  await writeEvaluations(db, [evaluation()]);
  const log = join(dir, 'sendmail.log');
  const prog = join(dir, 'fake-sendmail');
  // A stand-in for a sendmail binary whose exit code the test controls through a file.
  writeFileSync(prog, `#!/bin/sh\necho "$@" >> ${log}\ncat > /dev/null\nexit $(cat ${dir}/exit-code)\n`);
  chmodSync(prog, 0o755);
  const transport = sendmailTransport(prog, ['-C', '/etc/postfix-test']);
  const c = config({ bounce_limit: 2 });
  let now = T0 + DAY;
  writeFileSync(join(dir, 'exit-code'), '75');
  t.deepEqual(kinds(await runSendJob({ ...ports(db), config: c, dns, transport, now: () => now })), ['generated', 'deferred']);
  writeFileSync(join(dir, 'exit-code'), '67');
  now += 3_600_000;
  t.deepEqual(kinds(await runSendJob({ ...ports(db), config: c, dns, transport, now: () => now })), ['deferred']);
  now += 3_600_000;
  t.deepEqual(kinds(await runSendJob({ ...ports(db), config: c, dns, transport, now: () => now })), ['deferred', 'suppressed-now']);
  t.deepEqual((await db.ledger.listSuppressions()).map((s) => s.entry), ['dmarc@example.test']);
  t.is((await db.ledger.listDeliveries())[0]!.state, 'skipped');
  writeFileSync(join(dir, 'exit-code'), '0');
  now += 3_600_000;
  t.deepEqual(kinds(await runSendJob({ ...ports(db), config: c, dns, transport, now: () => now })), []);
  const { readFileSync } = await import('node:fs');
  t.regex(readFileSync(log, 'utf8').split('\n')[0]!, /^-C \/etc\/postfix-test -i -f dmarc-reports@anchor\.test -- dmarc@example\.test$/);
  await db.close();
});

it('dry run shows what would go where and stores nothing', async (t) => {
  const db = await store();
  await writeEvaluations(db, [evaluation()]);
  const transport = smtpTransport({ host: '127.0.0.1', port: await freePort(), helo: 'x', timeoutMs: 1000 });
  const ev = await runSendJob({ ...ports(db), config: config(), dns, transport, now: () => T0 + DAY, dryRun: true });
  t.deepEqual(kinds(ev), ['generated', 'would-send']);
  t.regex((ev[1] as { detail: string }).detail, /bytes via smtp 127\.0\.0\.1/);
  t.is((await db.ledger.listReports()).length, 0);
  t.is((await db.ledger.listDeliveries()).length, 0);
  await db.close();
});

it('a half-written store row is named and kept; the rest is reported; old evaluations are pruned', async (t) => {
  const sink = await startSmtpSink();
  sinks.push(sink);
  const db = await store();
  await writeEvaluations(db, [evaluation()]);
  const planted = raw(db);
  planted.prepare("INSERT INTO dmarc_evaluations (received_at, policy_domain, header_from, data) VALUES (?, 'example.test', 'example.test', '{\"receivedAt\":')").run(T0 + 1000);
  planted.prepare("INSERT INTO dmarc_evaluations (received_at, policy_domain, header_from, data) VALUES (?, 'example.test', 'example.test', '{\"receivedAt\":1}')").run(T0 + 2000);
  const transport = smtpTransport({ host: '127.0.0.1', port: sink.port, helo: 'x', timeoutMs: 5000 });
  const ev = await runSendJob({ ...ports(db), config: config(), dns, transport, now: () => T0 + DAY });
  t.deepEqual(kinds(ev), ['bad-row', 'bad-row', 'generated', 'sent']);
  t.regex((ev[0] as { reason: string }).reason, /JSON/);
  t.is((await db.evaluations.summary()).count, 3, 'nothing lost');
  const later = await runSendJob({ ...ports(db), config: config({ keep_evaluations: '2d' }), dns, transport, now: () => T0 + 5 * DAY });
  t.like(later.find((e) => e.kind === 'pruned'), { evaluations: 3 });
  await db.close();
});

it('two runs at the same time on the same store (two connections) send the report once', async (t) => {
  const sink = await startSmtpSink();
  sinks.push(sink);
  const path = join(dir, 'shared.db');
  const a = await openTestStore(path);
  await writeEvaluations(a, [evaluation()]);
  await writeEvaluations(a, [evaluation({ domain: 'other.test' })]);
  const b = await openTestStore(path);
  const transport = smtpTransport({ host: '127.0.0.1', port: sink.port, helo: 'x', timeoutMs: 5000 });
  const [ea, eb] = await Promise.all([
    runSendJob({ ...ports(a), config: config(), dns, transport, now: () => T0 + DAY }),
    runSendJob({ ...ports(b), config: config(), dns, transport, now: () => T0 + DAY }),
  ]);
  const all = [...ea, ...eb];
  t.is(all.filter((e) => e.kind === 'generated').length, 2);
  t.is(all.filter((e) => e.kind === 'sent').length, 2);
  t.deepEqual((await sink.messages()).map((m) => m.rcpt).sort(), ['dmarc@example.test', 'dmarc@other.test']);
  await a.close();
  await b.close();
});

it('reports disabled: nothing generated or sent, but old evaluations are still pruned', async (t) => {
  const db = await store();
  await writeEvaluations(db, [evaluation()]);
  const transport = smtpTransport({ host: '127.0.0.1', port: await freePort(), helo: 'x', timeoutMs: 1000 });
  t.deepEqual(await runSendJob({ ...ports(db), config: config({ enabled: false }), dns, transport, now: () => T0 + DAY }), []);
  t.is((await db.ledger.listReports()).length, 0);
  const later = await runSendJob({ ...ports(db), config: config({ enabled: false, keep_evaluations: '1d' }), dns, transport, now: () => T0 + 3 * DAY });
  t.deepEqual(later, [{ kind: 'pruned', evaluations: 1, reports: 0 }]);
  await db.close();
});
