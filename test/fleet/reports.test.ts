/**
 * Aggregate reports from a fleet: two hosts' evaluations in one PostgreSQL, and
 * `mailanchor report send --store postgresql://…` started on both hosts at the same moment
 * (two processes, the real CLI, SMTP to Postfix's smtp-sink). Each (period, policy domain,
 * destination) is sent exactly once, and each report counts both hosts' messages. Also: an
 * evaluation another host writes late (within `reports.settle`) is in the report.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { decodeConfig } from '../../src/config/load.ts';
import { mimeParts } from '../../src/reports/read/mime.ts';
import { reportsSection } from '../../src/reports/config.ts';
import { runSendJob } from '../../src/reports/send-job.ts';
import { openStore } from '../../src/store/open.ts';
import type { Store } from '../../src/store/store.ts';
import { fakeLookup } from '../support/fake-dns.ts';
import { postgresMissing, startPostgres, type PostgresServer } from '../support/postgres.ts';
import { smtpSinkMissing, startSmtpSink, type SmtpSink } from '../support/smtp-sink.ts';
import { DAY, evaluation, HOUR, policy, spoofed } from '../reports/evaluations.ts';

const missing = postgresMissing() ?? smtpSinkMissing();
const it = missing ? test.serial.skip : test.serial;
if (missing) test.skip(`fleet reports on PostgreSQL: ${missing}`, () => {});

const MAIN = new URL('../../src/cli/main.ts', import.meta.url).pathname;
let pg: PostgresServer;
let sink: SmtpSink;
let dir = '';
const stores: Store[] = [];

test.before(async () => {
  if (missing) return;
  dir = await mkdtemp(join(tmpdir(), 'mailanchor-fleet-reports-'));
  pg = await startPostgres();
  sink = await startSmtpSink();
});
test.after.always(async () => {
  for (const s of stores) await s.close();
  await sink?.stop();
  await pg?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function host(url: string): Promise<Store> {
  const s = await openStore(decodeConfig({}).config.store, { override: url });
  stores.push(s);
  return s;
}

function reportSend(url: string, cfg: string): Promise<{ code: number | null; out: string }> {
  const child = spawn(process.execPath, [MAIN, 'report', 'send', '--config', cfg, '--store', url], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, out })));
}

it('report send on two hosts at once over both hosts\' evaluations: each (period, domain, destination) sent exactly once, counting every host\'s messages', async (t) => {
  const url = pg.url(await pg.createDatabase());
  const a = await host(url);
  const b = await host(url);
  await a.migrate();
  // Yesterday (UTC) on both hosts: 3 domains, 2 with two destinations each.
  const day = Math.floor(Date.now() / DAY) * DAY - DAY;
  // Enough domains that the two runs overlap (each logs what it left to the other).
  const domains = Array.from({ length: 24 }, (_, i) => `d${i}.test`);
  const rua = (d: string) => (d.endsWith('3.test') ? [`mailto:dmarc@${d}`] : [`mailto:dmarc@${d}`, `mailto:agg@reports.${d}`]);
  const sinkA = a.openEvaluationSink();
  const sinkB = b.openEvaluationSink();
  const expected = new Map<string, number>();
  for (const [i, d] of domains.entries()) {
    const p = policy(d, { rua: rua(d) });
    const fromA = Array.from({ length: 1 + (i % 4) }, (_, k) => evaluation({ domain: d, policy: p, receivedAt: day + HOUR + k }));
    const fromB = Array.from({ length: 2 }, (_, k) => spoofed({ domain: d, policy: p, receivedAt: day + 2 * HOUR + k }));
    await sinkA.insertBatch(fromA);
    await sinkB.insertBatch(fromB);
    expected.set(d, fromA.length + fromB.length);
  }
  const cfg = join(dir, 'reports.yml');
  writeFileSync(cfg, `dns:\n  servers: ["127.0.0.1:1"]\nreports:\n  settle: 0s\n  org_name: Fleet\n  email: dmarc-reports@fleet.test\n  submitter: fleet.test\n  transport: smtp\n  smtp:\n    host: 127.0.0.1:${sink.port}\n    helo: fleet.test\n    timeout: 10s\n`);

  const [ra, rb] = await Promise.all([reportSend(url, cfg), reportSend(url, cfg)]);
  t.is(ra.code, 0, ra.out);
  t.is(rb.code, 0, rb.out);
  const generated = [ra.out, rb.out].join('').match(/^report \S+ for /gm) ?? [];
  t.is(generated.length, domains.length, 'one report per (period, domain), made by one host or the other');
  const sentBy = [ra.out, rb.out].map((o) => (o.match(/^sent /gm) ?? []).length);
  const left = [ra.out, rb.out].map((o) => (o.match(/^left .* to another run/gm) ?? []).length);
  t.log(`sent by host a ${sentBy[0]}, by host b ${sentBy[1]}; left to the other: a ${left[0]}, b ${left[1]}`);

  const msgs = await sink.messages();
  const want = domains.flatMap((d) => rua(d).map((u) => u.slice('mailto:'.length))).sort();
  t.deepEqual(msgs.map((m) => m.rcpt).sort(), want, 'each destination exactly once');
  for (const m of msgs) {
    const att = mimeParts(m.raw, 'sink').find((p) => p.contentType === 'application/gzip')!;
    const xml = gunzipSync(att.data).toString('utf8');
    const d = /<domain>([^<]+)<\/domain>/.exec(xml)![1]!;
    const counted = [...xml.matchAll(/<count>(\d+)<\/count>/g)].reduce((n, x) => n + Number(x[1]), 0);
    t.is(counted, expected.get(d) ?? -1, `${m.rcpt}: the report counts both hosts' messages for ${d}`);
  }
  // A later run on either host sends nothing again.
  const again = await reportSend(url, cfg);
  t.regex(again.out, /nothing to report/);
  t.is((await sink.messages()).length, msgs.length);
  await sinkA.close();
  await sinkB.close();
});

it('an evaluation written late by another host (its writer queue held it through an outage) is still in the report, within reports.settle', async (t) => {
  const url = pg.url(await pg.createDatabase());
  const a = await host(url);
  const b = await host(url);
  await a.migrate();
  const day = Date.UTC(2026, 10, 30);
  const p = policy('late.test', { rua: ['mailto:dmarc@late.test'] });
  await a.openEvaluationSink().insertBatch([evaluation({ domain: 'late.test', policy: p, receivedAt: day + HOUR })]);
  const config = reportsSection({ org_name: 'Fleet', email: 'dmarc-reports@fleet.test', submitter: 'fleet.test' }, 'reports', []);
  const sent: string[] = [];
  const transport = { describe: 'memory', send: async (m: { to: string; data: Buffer }) => (sent.push(m.data.toString('latin1')), '250 ok') };
  // Five minutes after the period: host A's run finds the period not settled yet.
  const early = await runSendJob({ evaluations: a.evaluations, ledger: a.ledger, config, dns: fakeLookup({}), transport, now: () => day + DAY + 5 * 60_000 });
  t.deepEqual(early, [], `settle ${config.settle} ms: not reported yet`);
  // Host B's queue flushes its evaluation of 23:59 now; A's next run, after settle, reports both.
  await b.openEvaluationSink().insertBatch([spoofed({ domain: 'late.test', policy: p, receivedAt: day + DAY - 60_000 })]);
  const later = await runSendJob({ evaluations: a.evaluations, ledger: a.ledger, config, dns: fakeLookup({}), transport, now: () => day + DAY + config.settle });
  t.like(later[0], { kind: 'generated', messages: 2 });
  t.is(sent.length, 1);
});
