/**
 * The PostgreSQL adapter against a real PostgreSQL (Debian's, started by the test in a temp
 * dir on a loopback port): the store contract, plus what only a server has — concurrent
 * migrations from hosts starting together, a password that never reaches a message, the
 * password file, and reconnection after the server restarts.
 */
import test from 'ava';
import { writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeConfig } from '../../src/config/load.ts';
import { describeError } from '../../src/errors.ts';
import { openStore } from '../../src/store/open.ts';
import type { Store } from '../../src/store/store.ts';
import { run as storeCli } from '../../src/cli/store.ts';
import { run as keysCli } from '../../src/cli/keys.ts';
import { captureIo } from '../support/cli-io.ts';
import { freePort } from '../support/ports.ts';
import { postgresMissing, startPostgres, type PostgresServer } from '../support/postgres.ts';
import { MilterClient, sendMessage } from '../../src/milter/mta-client.ts';
import { startMilterProcess } from '../support/milter-process.ts';
import { storeContract } from './contract.ts';

const missing = postgresMissing();
const it = missing ? test.skip : test;
if (missing) test.skip(`PostgreSQL store: ${missing}`, () => {});

let pg: PostgresServer;
let dir = '';
const opened: Store[] = [];
const defaults = () => decodeConfig({}).config.store;

test.before(async () => {
  if (missing) return;
  pg = await startPostgres();
  dir = await mkdtemp(join(tmpdir(), 'mailanchor-pgtest-'));
});
test.after.always(async () => {
  for (const s of opened) await s.close().catch(() => undefined);
  await pg?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function open(url: string, over: Record<string, unknown> = {}): Promise<Store> {
  // A generous connect timeout: the test machine may be loaded; an unreachable port is refused at once anyway.
  const s = await openStore({ ...defaults(), connect_timeout: 30_000, ...over }, { override: url });
  opened.push(s);
  return s;
}

if (!missing) {
  storeContract(test, {
    name: 'postgres',
    open: async () => open(pg.url(await pg.createDatabase())),
    second: async (s) => open(pg.url(s.location.split('/').pop()!)),
  });
}

it('hosts starting together migrate once: the advisory lock makes the others wait, then find nothing to do', async (t) => {
  const db = await pg.createDatabase();
  const stores = await Promise.all(Array.from({ length: 4 }, () => open(pg.url(db))));
  const applied = await Promise.all(stores.map((s) => s.migrate()));
  t.is(applied.filter((a) => a.length > 0).length, 1, JSON.stringify(applied));
  t.true((await stores[3]!.schema()).every((f) => f.current === f.wanted));
});

it('the password never appears in a location, a log line or an error message', async (t) => {
  const db = await pg.createDatabase();
  const s = await open(pg.url(db));
  t.is(s.location, `postgresql://mailanchor@127.0.0.1:${pg.port}/${db}`);
  t.false(s.location.includes(pg.password));
  const wrong = `postgresql://mailanchor:${pg.password}-wrong@127.0.0.1:${pg.port}/${db}`;
  const bad = await open(wrong);
  const err = await t.throwsAsync(bad.migrate());
  t.regex(err!.message, /password authentication failed/);
  t.false(JSON.stringify({ ...describeError(err), context: (err as { context?: unknown }).context }).includes(pg.password), err!.message);
  const down = await open(`postgresql://mailanchor:${pg.password}@127.0.0.1:${await freePort()}/${db}`);
  const e2 = await t.throwsAsync(down.keys.list());
  t.is((e2 as { code?: string }).code, 'UNAVAILABLE');
  t.false(e2!.message.includes(pg.password), e2!.message);

  // The CLI, end to end: its output and errors carry no password either.
  const io = captureIo(dir);
  t.is(await storeCli(['migrate', '--store', wrong], io), 77, 'EX_NOPERM: the server refused our role');
  t.is(await storeCli(['status', '--store', pg.url(db)], io), 0, io.err());
  const all = io.out() + io.err();
  t.regex(all, new RegExp(`store: postgresql://mailanchor@127\\.0\\.0\\.1:${pg.port}/${db} \\(postgres\\)`));
  t.false(all.includes(pg.password), all);
});

it('a URL without a password takes it from store.password_file', async (t) => {
  const db = await pg.createDatabase();
  const file = join(dir, 'pg.pw');
  writeFileSync(file, `${pg.password}\n`, { mode: 0o600 });
  const s = await open(pg.url(db, { withPassword: false }), { password_file: file });
  t.true((await s.migrate()).length > 0);
});

it('keys import --store postgresql://… works with no config file', async (t) => {
  const db = await pg.createDatabase();
  const { generateKey } = await import('../../src/keys/generate.ts');
  const keyFile = join(dir, 'imp.private');
  writeFileSync(keyFile, generateKey('rsa-sha256').privateKeyPem, { mode: 0o600 });
  const io = captureIo(dir);
  // No DNS here (a closed loopback port): the key is stored, published, until DNS shows it.
  const closed = `127.0.0.1:${await freePort()}`;
  t.is(await keysCli(['import', '--domain', 'imp.test', '--selector', 'mail', '--key', keyFile, '--store', pg.url(db), '--dns', closed, '--nameserver', closed], io), 0, io.err());
  t.regex(io.out(), /imp\.test mail: imported rsa-sha256 .* as published/);
  t.is(await keysCli(['list', '--store', pg.url(db)], io), 0, io.err());
  t.regex(io.out(), /^imp\.test mail rsa-sha256 published /m);
  t.false((io.out() + io.err()).includes(pg.password));
});

// Serial: ava runs serial tests before the concurrent ones, so the restart cuts no other test's connections.
(missing ? test.serial.skip : test.serial)('PostgreSQL restarted: statements fail while it is down (UNAVAILABLE), then work again without reopening', async (t) => {
  const db = await pg.createDatabase();
  const s = await open(pg.url(db));
  await s.migrate();
  t.is(await s.keys.generation(), 1);
  await pg.pause();
  try {
    const err = await t.throwsAsync(s.keys.generation());
    t.is((err as { code?: string }).code, 'UNAVAILABLE', err!.message);
  } finally {
    await pg.resume();
  }
  t.is(await s.keys.generation(), 1, 'the pool reconnected by itself');
});

it('migrate_at_start: false — a command refuses an unmigrated schema and names the command to run; after `store migrate` it works', async (t) => {
  const db = await pg.createDatabase();
  const cfg = join(dir, 'no-auto.yml');
  writeFileSync(cfg, 'store:\n  migrate_at_start: false\n');
  const io = captureIo(dir);
  t.is(await keysCli(['list', '--config', cfg, '--store', pg.url(db)], io), 78, 'EX_CONFIG: migrate, or let migrate_at_start do it');
  t.regex(io.err(), /schema older than this mailanchor needs \(keys 0 < 3, dmarc_evaluations 0 < 1, dmarc_reports 0 < 1, received_reports 0 < 1\); run `mailanchor store migrate --store postgresql:\/\/mailanchor@127\.0\.0\.1:\d+\/\w+`/);
  t.is(await storeCli(['migrate', '--store', pg.url(db)], io), 0, io.err());
  t.is(await keysCli(['list', '--config', cfg, '--store', pg.url(db)], io), 0, io.err());
  t.false((io.out() + io.err()).includes(pg.password));
});

it('a milter started while PostgreSQL is unreachable: it starts, logs the outage without the password, tempfails outbound (no keys yet), and keeps serving', async (t) => {
  const secret = 'S3cret-in-the-url';
  const url = `postgresql://mailanchor:${secret}@127.0.0.1:${await freePort()}/nowhere`;
  const cfg = join(dir, 'down.yml');
  writeFileSync(cfg, 'dns:\n  servers: ["127.0.0.1:1"]\n  timeout: 200ms\ninbound:\n  iprev: false\n');
  const milter = await startMilterProcess(['--config', cfg, '--store', url]);
  try {
    const c = await MilterClient.connect(`inet:127.0.0.1:${milter.port}`);
    await c.negotiate();
    const r = await sendMessage(c, { from: 'a@mine.test', rcpts: ['b@example.net'], headers: [['From', ' a@mine.test'], ['Subject', ' x']], body: 'x\r\n' });
    c.quit();
    t.is(r.eom?.reply.kind, 'replycode');
    t.regex(r.eom?.reply.kind === 'replycode' ? r.eom.reply.text : '', /^451 4\.3\.0 .*signing keys unavailable/);
    const out = milter.output();
    t.regex(out, /store unreachable at start; signing keys and DMARC evaluations wait for it/);
    t.regex(out, /postgresql:\/\/mailanchor@127\.0\.0\.1:\d+\/nowhere/);
    t.false(out.includes(secret), out);
  } finally {
    await milter.stop();
  }
  t.false(milter.output().includes(secret));
});
