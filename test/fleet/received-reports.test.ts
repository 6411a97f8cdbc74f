/**
 * Received reports on a fleet: two hosts run `mailanchor report import --store
 * postgresql://…` at the same moment (two processes, the real CLI) against the one mailbox
 * the rua= address delivers to (a private Dovecot on loopback), with some reports mailed
 * twice. One host takes the mailbox's lease and imports, the other does nothing; every
 * report is stored once and every report message ends in the processed folder once. Then
 * `report page` on a third host shows the same totals as `report read` on the same reports
 * without any store. The lease: while another host holds it a run touches nothing; one
 * left by a process of this host that died (kill -9) is taken over at once.
 */
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { ImapFlow } from 'imapflow';
import type { Page } from '../../src/reports/received/page.ts';
import { month, reportMail, reportXml } from '../support/dmarc-reports.ts';
import { dovecotMissing, folderCounts as countFolders, imapClient, startDovecot, type DovecotServer } from '../support/dovecot.ts';
import { postgresMissing, startPostgres, type PostgresServer } from '../support/postgres.ts';
import { openTestStore } from '../support/store.ts';

const missing = postgresMissing() ?? dovecotMissing();
const it = missing ? test.serial.skip : test.serial;
if (missing) test.skip(`received reports on a fleet: ${missing}`, () => {});

const MAIN = new URL('../../src/cli/main.ts', import.meta.url).pathname;
const START = 1_790_812_800; // 2026-10-01
let pg: PostgresServer | undefined;
let imap: DovecotServer | undefined;
let dir = '';

test.before(async () => {
  if (missing) return;
  dir = await mkdtemp(join(tmpdir(), 'mailanchor-fleet-received-'));
  [pg, imap] = await Promise.all([startPostgres(), startDovecot({ users: [{ user: 'dmarc', password: 'secret' }] })]);
});
test.after.always(async () => {
  await imap?.stop();
  await pg?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function cli(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, out, err })));
}

const mailbox = (): Promise<ImapFlow> => imapClient(imap!, 'dmarc', 'secret');
const folderCounts = (): Promise<Record<string, number>> => countFolders(imap!, 'dmarc', 'secret');

const count = (text: string, re: RegExp): number => Number(re.exec(text)?.[1] ?? 0);

it('two hosts import from one mailbox at once into one PostgreSQL: each report stored once, each message filed once; the page on a third host matches report read', async (t) => {
  const url = pg!.url(await pg!.createDatabase());
  const reports = [
    ...month({ domain: 'example.test', start: START, days: 12, seed: 51 }),
    ...month({ domain: 'shop.example.test', start: START, days: 12, seed: 52 }),
  ];
  const files = join(dir, 'files');
  mkdirSync(files);
  const c = await mailbox();
  try {
    for (const [i, r] of reports.entries()) {
      const xml = Buffer.from(reportXml(r));
      await writeFile(join(files, `${i}.xml`), xml);
      const mail = reportMail(gzipSync(xml), `${r.reportId}.xml.gz`, 'application/gzip', `Report Domain: ${r.domain} Submitter: ${r.org} Report-ID: <${r.reportId}>`);
      await c.append('INBOX', mail);
      if (i % 10 === 0) await c.append('INBOX', mail); // mailed twice
    }
    await c.append('INBOX', Buffer.from('From: a@example.test\r\nTo: dmarc@example.test\r\nSubject: not a report\r\n\r\nhello\r\n'));
  } finally {
    await c.logout();
  }
  const twice = Math.ceil(reports.length / 10);
  const messages = reports.length + twice + 1;
  t.is((await folderCounts()).INBOX, messages);

  await writeFile(join(dir, 'imap-password'), 'secret\n', { mode: 0o600 });
  const cfg = join(dir, 'mailanchor.yml');
  await writeFile(
    cfg,
    `reports:\n  domains: [example.test]\n  import:\n    imap:\n      host: 127.0.0.1:${imap!.port}\n      tls: none\n      user: dmarc\n      password_file: ${join(dir, 'imap-password')}\n      timeout: 30s\n`,
  );
  const [a, b] = await Promise.all([cli(['report', 'import', '--config', cfg, '--store', url]), cli(['report', 'import', '--config', cfg, '--store', url])]);
  t.is(a.code, 0, a.out + a.err);
  t.is(b.code, 0, b.out + b.err);
  const summary = (o: string) => /^\d+ report\(s\) stored.*$/m.exec(o)?.[0] ?? o;
  t.log(`host a: ${summary(a.out)}\nhost b: ${summary(b.out)}`);
  const stored = [a, b].map((r) => count(r.out, /^(\d+) report\(s\) stored/m));
  t.is(stored[0]! + stored[1]!, reports.length, 'every report stored by exactly one host');
  const busy = [a, b].filter((r) => /^INBOX: another run holds the lease on this mailbox/m.test(r.out)).length;
  t.log(`hosts that found the lease taken: ${busy}`);
  t.false(`${a.out}${b.out}${a.err}${b.err}`.includes(pg!.password), 'no store password in any output');

  // A message either host left (its report was being stored by the other) is settled by the next run.
  let after = await folderCounts();
  if (after.INBOX) {
    const again = await cli(['report', 'import', '--config', cfg, '--store', url]);
    t.is(again.code, 0, again.err);
    t.regex(again.out, /^0 report\(s\) stored/m);
    after = await folderCounts();
  }
  t.like(after, { INBOX: 0, 'Reports/Processed': reports.length + twice, 'Reports/Unused': 1 }, 'each message filed once');

  const store = await openTestStore(url);
  try {
    t.like(await store.received.counts(), { dmarcReports: reports.length, tlsReports: 0, rows: reports.reduce((n, r) => n + r.rows.length, 0) });
  } finally {
    await store.close();
  }

  // Host c: the page from the shared history, and report read on the files, agree.
  const page = await cli(['report', 'page', '--config', cfg, '--store', url, '--no-dns', '--days', '100000', '--json', '-']);
  t.is(page.code, 0, page.err);
  const read = await cli(['report', 'read', '--config', cfg, '--no-dns', '--json', '-', files]);
  t.is(read.code, 0, read.err);
  const totals = (p: Page) => p.data.domains.map((d) => ({ domain: d.domain, reports: d.reports, messages: d.total.messages, days: d.days.length, sources: d.sourceCount })).sort((x, y) => x.domain.localeCompare(y.domain));
  const fromHistory = totals(JSON.parse(page.out) as Page);
  t.deepEqual(fromHistory, totals(JSON.parse(read.out) as Page));
  t.deepEqual(fromHistory.map((d) => [d.domain, d.reports]), [['example.test', reports.length / 2], ['shop.example.test', reports.length / 2]]);
});

it('the mailbox lease: another host holding it means nothing is touched; one left by a dead process of this host is taken over at once', async (t) => {
  const url = pg!.url(await pg!.createDatabase());
  const r = month({ domain: 'example.test', start: START + 40 * 86_400, days: 1, seed: 53 })[0]!;
  const c = await mailbox();
  try {
    await c.append('INBOX', reportMail(gzipSync(reportXml(r)), `${r.reportId}.xml.gz`, 'application/gzip', `Report Domain: ${r.domain}`));
  } finally {
    await c.logout();
  }
  const cfg = join(dir, 'mailanchor.yml');
  const name = `report-import:dmarc@127.0.0.1:${imap!.port}/INBOX`;
  const store = await openTestStore(url);
  try {
    t.true(await store.lease.acquire(name, 'mx2.fleet.test:4242:held', Date.now(), 600_000));
    const busy = await cli(['report', 'import', '--config', cfg, '--store', url]);
    t.is(busy.code, 0, busy.err);
    t.regex(busy.out, /^INBOX: another run holds the lease on this mailbox \(on this host or another\); nothing done$/m);
    t.is((await folderCounts()).INBOX, 1, 'nothing moved');
    await store.lease.release(name, 'mx2.fleet.test:4242:held');

    const dead = spawnSync(process.execPath, ['-e', '0']).pid!; // a pid that no longer runs
    t.true(await store.lease.acquire(name, `${hostname()}:${dead}:killed`, Date.now(), 600_000));
    const takeover = await cli(['report', 'import', '--config', cfg, '--store', url]);
    t.is(takeover.code, 0, takeover.err);
    t.regex(takeover.out, /^1 report\(s\) stored, 0 already known$/m);
    t.is((await folderCounts()).INBOX, 0);
    t.is((await pg!.psql(url.split('/').pop()!, 'SELECT count(*) FROM key_leases')).trim(), '0', 'released at the end');
  } finally {
    await store.close();
  }
});
