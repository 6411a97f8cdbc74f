/**
 * `mailanchor report send --now` / `--period START..END` [--to ADDRESS]: an admin tests report
 * delivery before the period has ended. The on-demand report goes out through the same checks,
 * is marked (Report-ID `ondemand…`, report_metadata/error, text part), is valid against the
 * RFC 9990 schema, and is never stored: the scheduled report of the period is then made in full
 * and sent once, as if no on-demand report had been sent.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { run } from '../../src/cli/report.ts';
import { decodeConfig } from '../../src/config/load.ts';
import { createResolver } from '../../src/dns/resolver.ts';
import { runSendJob } from '../../src/reports/send-job.ts';
import { smtpTransport } from '../../src/reports/smtp-client.ts';
import { captureIo } from '../support/cli-io.ts';
import { freePort } from '../support/ports.ts';
import { smtpSinkMissing, startSmtpSink, type SmtpSink } from '../support/smtp-sink.ts';
import { openTestStore, writeEvaluations } from '../support/store.ts';
import { gzipAttachment } from './attachment.ts';
import { DAY, evaluation, policy, spoofed } from './evaluations.ts';

const XSD = new URL('../fixtures/reports/rfc9990-dmarc-2.0.xsd', import.meta.url).pathname;
const missing = smtpSinkMissing() ?? (existsSync('/usr/bin/xmllint') ? undefined : 'xmllint missing');
const it = missing ? test.serial.skip : test.serial;
if (missing) test.skip(`on-demand reports: ${missing}`, () => {});

let dir = '';
let sink: SmtpSink | undefined;
let cfg = '';
let dbPath = '';
/** Today's UTC period (the clock is real: the CLI reads Date.now). */
const now = Date.now();
const dayStart = Math.floor(now / DAY) * DAY;
const earlier = dayStart + Math.floor((now - dayStart) / 2);

test.before(async () => {
  if (missing) return;
  dir = await mkdtemp(join(tmpdir(), 'mailanchor-ondemand-'));
  sink = await startSmtpSink();
  dbPath = join(dir, 'mailanchor.db');
  // DNS points nowhere: an external rua could not be verified, so --to must not need DNS.
  cfg = join(dir, 'mailanchor.yml');
  await writeFile(
    cfg,
    `store:\n  path: ${dbPath}\ndns:\n  servers: ["127.0.0.1:${await freePort()}"]\n  timeout: 300ms\n  attempts: 1\nreports:\n  settle: 0s\n  org_name: Anchor\n  email: dmarc-reports@anchor.test\n  submitter: anchor.test\n  transport: smtp\n  smtp:\n    host: 127.0.0.1:${sink.port}\n    helo: anchor.test\n    timeout: 5s\n`,
  );
  const db = await openTestStore(dbPath);
  await writeEvaluations(db, [
    evaluation({ receivedAt: earlier }),
    spoofed({ receivedAt: earlier + 1000 }),
    evaluation({ domain: 'far.test', receivedAt: earlier, policy: policy('far.test', { rua: ['mailto:agg@external.test'] }) }),
  ]);
  await db.close();
});
test.after.always(async () => {
  await sink?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function cli(...argv: string[]) {
  const io = captureIo(dir);
  const code = await run(argv, io);
  return { code, stdout: io.out(), stderr: io.err() };
}

const xmlOf = async (raw: Buffer): Promise<string> => gunzipSync((await gzipAttachment(raw))!.data).toString('utf8');

async function xsdValid(xml: string): Promise<{ code: number; out: string }> {
  const file = join(dir, `r${Math.random().toString(36).slice(2)}.xml`);
  await writeFile(file, xml);
  return new Promise((resolve) => execFile('/usr/bin/xmllint', ['--noout', '--schema', XSD, file], (err, o, e) => resolve({ code: err ? 1 : 0, out: `${o}${e}` })));
}

it('usage: --now and --period exclude each other; --to needs one of them; a bad period is named', async (t) => {
  t.is((await cli('send', '--now', '--period', '2026-11-01..2026-11-02', '--config', cfg)).code, 64);
  t.is((await cli('send', '--to', 'a@b.test', '--config', cfg)).code, 64);
  const bad = await cli('send', '--period', '2026-11-02..2026-11-01', '--config', cfg);
  t.is(bad.code, 64);
  t.regex(bad.stderr, /END must be after START/);
  t.regex((await cli('send', '--period', 'yesterday', '--config', cfg)).stderr, /expected START\.\.END/);
  const off = join(dir, 'off.yml');
  await writeFile(off, `store:\n  path: ${dbPath}\nreports:\n  enabled: false\n`);
  const disabled = await cli('send', '--now', '--config', off);
  t.is(disabled.code, 64);
  t.regex(disabled.stderr, /reports\.enabled is false: on-demand reports go only to an address given with --to/);
});

it('--now: the period so far, marked on-demand, schema-valid, sent to the rua; nothing stored; the scheduled report later covers the whole day once', async (t) => {
  const dry = await cli('send', '--now', '--dry-run', '--config', cfg);
  t.is(dry.code, 75, 'the external destination cannot be verified (DNS down)');
  t.regex(dry.stdout, /\[dry run\] on-demand report \(not stored\) ondemand[0-9a-f]{20}@anchor\.test for example\.test .*: 2 message\(s\)/);
  t.is((await sink!.messages()).length, 0);

  const r = await cli('send', '--now', '--config', cfg);
  t.log(r.stdout);
  t.regex(r.stdout, /^sent ondemand[0-9a-f]{20}@anchor\.test to dmarc@example\.test: 250 /m);
  // The external rua cannot be verified (DNS down): not sent, and not retried (nothing is stored).
  t.regex(r.stdout, /^not sent ondemand\S+ to agg@external\.test \(on-demand reports are not retried\): cannot verify external destination now/m);
  t.is(r.code, 75);
  const msgs = await sink!.messages();
  t.is(msgs.length, 1);
  const raw = msgs[0]!.raw.toString('latin1').replace(/\r?\n[ \t]+/g, ' ');
  t.regex(raw, /Report-ID: <ondemand[0-9a-f]{20}@anchor\.test>/);
  t.regex(raw, /On-demand report for .* It is not the scheduled report for this period/);
  t.regex(raw, /filename="anchor\.test!example\.test!\d+!\d+!ondemand[0-9a-f]{20}\.xml\.gz"/);
  const xml = await xmlOf(msgs[0]!.raw);
  t.regex(xml, /<error>On-demand report for [^<]*--now[^<]*Do not add the two up\.<\/error>/);
  t.regex(xml, new RegExp(`<begin>${dayStart / 1000}</begin>`), 'from the start of the period in progress');
  const lint = await xsdValid(xml);
  t.is(lint.code, 0, lint.out);

  const show = await cli('show', '--config', cfg);
  t.regex(show.stdout, /^reports: 0$/m, 'the on-demand report is not in the ledger');
  const scheduledNow = await cli('send', '--config', cfg);
  t.is(scheduledNow.stdout, 'nothing to report\n', 'the period has not ended: no scheduled report yet, and none blocked or claimed');

  // After the period: the scheduled run (its clock injected) reports the whole day, once.
  const { config } = decodeConfig({ reports: { settle: '0s', org_name: 'Anchor', email: 'dmarc-reports@anchor.test', submitter: 'anchor.test', suppress: ['external.test'] } });
  const db = await openTestStore(dbPath);
  const transport = smtpTransport({ host: '127.0.0.1', port: sink!.port, helo: 'anchor.test', timeoutMs: 5000 });
  const events = await runSendJob({ evaluations: db.evaluations, ledger: db.ledger, config: config.reports, dns: createResolver({ servers: [{ host: '127.0.0.1', port: 9 }], timeoutMs: 200, attempts: 1 }), transport, now: () => dayStart + DAY + 1000 });
  const generated = events.filter((e) => e.kind === 'generated');
  t.deepEqual(generated.map((e) => [e.policyDomain, e.messages]), [['example.test', 2], ['far.test', 1]]);
  t.false(generated.some((e) => e.reportId.startsWith('ondemand')));
  t.is(events.filter((e) => e.kind === 'sent').length, 1);
  const again = await runSendJob({ evaluations: db.evaluations, ledger: db.ledger, config: config.reports, dns: createResolver({ servers: [{ host: '127.0.0.1', port: 9 }], timeoutMs: 200, attempts: 1 }), transport, now: () => dayStart + DAY + 60_000 });
  t.deepEqual(again.filter((e) => e.kind === 'generated' || e.kind === 'sent'), [], 'and not again');
  await db.close();
  const scheduled = (await sink!.messages()).filter((m) => !/ondemand/.test(m.raw.toString('latin1')));
  t.is(scheduled.length, 1);
  t.notRegex(await xmlOf(scheduled[0]!.raw), /<error>/, 'the scheduled report is not marked');
});

it('--period START..END --to ADDRESS: every report to the admin, no rua and no DNS check needed', async (t) => {
  const day = new Date(dayStart).toISOString().slice(0, 10);
  const next = new Date(dayStart + DAY).toISOString().slice(0, 10);
  const r = await cli('send', '--period', `${day}..${next}`, '--to', 'postmaster@anchor.test', '--config', cfg);
  t.is(r.code, 0, r.stdout + r.stderr);
  t.regex(r.stdout, /^sent ondemand\S+ to postmaster@anchor\.test: 250 .*\(address given by hand\)/m);
  const msgs = (await sink!.messages()).filter((m) => /--period/.test(m.raw.toString('latin1')));
  t.deepEqual(msgs.map((m) => m.rcpt), ['postmaster@anchor.test', 'postmaster@anchor.test']);
  const xmls = await Promise.all(msgs.map((m) => xmlOf(m.raw)));
  const domains = xmls.map((x) => /<policy_published>\s*<domain>([^<]+)</.exec(x)?.[1]).sort();
  t.deepEqual(domains, ['example.test', 'far.test']);
  for (const x of xmls) t.regex(x, /<error>On-demand report for [^<]*--period/);
  const empty = await cli('send', '--period', '2001-01-01..2001-01-02', '--config', cfg);
  t.is(empty.stdout, 'no evaluations in that period: nothing to report\n');
});
