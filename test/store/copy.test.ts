/**
 * `mailanchor store migrate --from FILE --to URL`: a host's SQLite store moved into a real
 * PostgreSQL — keys with their states and dates, evaluations, the report ledger (what was
 * sent stays sent), suppressions and bounces; a second host's file then adds its evaluations
 * but not a second key set for a domain the fleet already has.
 */
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run as storeCli } from '../../src/cli/store.ts';
import { generateKey } from '../../src/keys/generate.ts';
import type { Store } from '../../src/store/store.ts';
import { captureIo } from '../support/cli-io.ts';
import { postgresMissing, startPostgres, type PostgresServer } from '../support/postgres.ts';
import { openTestStore, writeEvaluations } from '../support/store.ts';
import { DAY, evaluation, T0 } from '../reports/evaluations.ts';
import { parseAggregate } from '../../src/reports/read/aggregate-parser.ts';
import { month, reportXml } from '../support/dmarc-reports.ts';

// Received reports: one both hosts imported (the same mail reached both), and one each.
const [shared, ownA, ownB] = month({ domain: 'example.test', start: 1_790_812_800, days: 1, seed: 31 }).map((r) => parseAggregate(reportXml(r)));
const own = { a: ownA!, b: ownB! };

const missing = postgresMissing();
const it = missing ? test.serial.skip : test.serial;
if (missing) test.skip(`store migrate --from/--to: ${missing}`, () => {});

let pg: PostgresServer;
let dir = '';
const opened: Store[] = [];
test.before(async () => {
  if (missing) return;
  pg = await startPostgres();
  dir = await mkdtemp(join(tmpdir(), 'mailanchor-copy-'));
});
test.after.always(async () => {
  for (const s of opened) await s.close();
  await pg?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function hostFile(name: string, keysFor: string): Promise<string> {
  const path = join(dir, `${name}.db`);
  const s = await openTestStore(path);
  const k = generateKey('ed25519-sha256');
  await s.keys.insert({ id: `${name}-old`, domain: keysFor, selector: `${name}old`, algorithm: 'ed25519-sha256', state: 'published', createdAt: T0, privateKeyPem: k.privateKeyPem, publicKeyPem: k.publicKeyPem });
  await s.keys.apply([{ id: `${name}-old`, state: 'retired', seenEverywhereAt: T0 + 5 }], T0 + 10);
  await s.keys.insert({ id: `${name}-new`, domain: keysFor, selector: `${name}new`, algorithm: 'ed25519-sha256', state: 'active', createdAt: T0 + 20, privateKeyPem: k.privateKeyPem, publicKeyPem: k.publicKeyPem });
  await writeEvaluations(s, [evaluation({ receivedAt: T0 + 1 }), evaluation({ receivedAt: T0 + DAY + 2, domain: 'other.test' })]);
  await s.ledger.insertReport(
    { reportId: `${name}-r1`, policyDomain: 'example.test', beginAt: T0 / 1000 - 86_400, endAt: T0 / 1000, fileName: 'f.xml.gz', messageCount: 1, recordCount: 1, xmlGz: Buffer.from([0x1f, 0x8b]), deliveries: [{ address: 'dmarc@example.test', uri: 'mailto:dmarc@example.test', state: 'pending' }] },
    T0,
  );
  await s.ledger.claimDelivery(`${name}-r1`, 'dmarc@example.test', T0, 1);
  await s.ledger.markSent(`${name}-r1`, 'dmarc@example.test', T0 + 1, '250 ok');
  await s.ledger.addSuppression('nope.test', 'by hand', T0);
  await s.ledger.recordBounce('gone@x.test', T0, '550 no');
  await s.ledger.recordBounce('gone@x.test', T0 + 1, '550 still no');
  for (const r of [shared!, own[name as 'a' | 'b']]) {
    const claim = await s.received.beginDmarc(r.header, { source: `imap:INBOX/${name}`, importedAt: T0 });
    if (claim.kind !== 'new') throw new Error('fixture: not new');
    await claim.sink.rows(r.rows);
    await claim.sink.commit(r.stats, [`warning on ${name}`]);
  }
  await s.received.addTls(
    { orgName: 'Google Inc.', reportId: `tls-${name}`, begin: 1_790_812_800, end: 1_790_899_199, policies: [{ policyType: 'sts', policyDomain: 'example.test', policyStrings: [], mxHosts: ['mx.example.test'], successfulSessions: 9, failedSessions: 0, failures: [] }] },
    { source: `file-${name}`, importedAt: T0 },
  );
  await s.close();
  return path;
}

it('a host\'s SQLite store moves into PostgreSQL; a second host adds its evaluations but not a second key set', async (t) => {
  const url = pg.url(await pg.createDatabase());
  const a = await hostFile('a', 'example.test');
  const io = captureIo(dir);
  t.is(await storeCli(['migrate', '--from', a, '--to', url], io), 0, io.err());
  t.regex(io.out(), /keys: 2 copied/);
  t.regex(io.out(), /evaluations: 2 copied/);
  t.regex(io.out(), /reports: 1 copied/);
  t.false((io.out() + io.err()).includes(pg.password));

  const target = await openTestStore(url);
  opened.push(target);
  const keys = await target.keys.list();
  t.deepEqual(keys.map((k) => [k.id, k.state, k.stateSince, k.seenEverywhereAt]), [['a-old', 'retired', T0 + 10, T0 + 5], ['a-new', 'active', T0 + 20, undefined]]);
  t.is((await target.evaluations.summary()).count, 2);
  t.deepEqual((await target.ledger.listDeliveries()).map((d) => [d.reportId, d.state]), [['a-r1', 'sent']], 'what was sent stays sent');
  t.deepEqual((await target.ledger.listSuppressions()).map((s) => s.entry), ['nope.test']);
  t.deepEqual((await target.ledger.listBounces()).map((b) => [b.address, b.count]), [['gone@x.test', 2]]);
  t.regex(io.out(), /received reports: 3 copied\n/);
  const got = new Map<string, { rows: unknown[]; source: string; warnings: readonly string[] }>();
  for await (const { report, rows } of target.received.dmarc({ from: 0, to: 2 ** 31, domains: [] })) {
    const all: unknown[] = [];
    for await (const b of rows) all.push(...b);
    got.set(report.header.reportId, { rows: all, source: report.source, warnings: report.warnings });
  }
  t.deepEqual(got.get(shared!.header.reportId), { rows: shared!.rows, source: 'imap:INBOX/a', warnings: ['warning on a'] }, 'records, source and warnings as they were');
  t.deepEqual(got.get(ownA!.header.reportId)?.rows, ownA!.rows);

  // Host B had rotated example.test on its own (the problem a fleet store ends): its keys stay out.
  const b = await hostFile('b', 'example.test');
  const io2 = captureIo(dir);
  t.is(await storeCli(['migrate', '--from', b, '--to', url], io2), 0, io2.err());
  t.regex(io2.out(), /keys: 0 copied; domains already in the target, kept as they are there: example\.test/);
  t.regex(io2.out(), /evaluations: 2 copied/);
  t.regex(io2.out(), /reports: 0 copied, 1 already in the target \(kept\)/, 'the same (domain, period): reported once');
  t.deepEqual((await target.keys.listActive()).map((k) => k.id), ['a-new'], 'one active key for the domain');
  t.is((await target.evaluations.summary()).count, 4);
  t.regex(io2.out(), /received reports: 2 copied, 1 already in the target \(kept\)/, 'the report both hosts imported is kept once');
  t.like(await target.received.counts(), { dmarcReports: 3, tlsReports: 2, rows: shared!.rows.length + ownA!.rows.length + ownB!.rows.length });
});

it('bad arguments: --from must be a SQLite file, and --from needs --to', async (t) => {
  const io = captureIo(dir);
  t.is(await storeCli(['migrate', '--from', pg.url('x'), '--to', pg.url('y')], io), 64);
  t.regex(io.err(), /--from names the SQLite file to copy/);
  t.is(await storeCli(['migrate', '--from', join(dir, 'x.db')], io), 64);
  t.regex(io.err(), /needs --to URL/);
});
