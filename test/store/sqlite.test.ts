/**
 * The SQLite adapter: the store contract, plus what only a file has — mode 0600, and a full
 * disk reported as the disk being full (`PRAGMA max_page_count` stands in for a small
 * filesystem), counted by the evaluation writer, with mail never waiting.
 */
import test from 'ava';
import { mkdtempSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { decodeConfig } from '../../src/config/load.ts';
import { openStore } from '../../src/store/open.ts';
import { openSqliteStore } from '../../src/store/sqlite/store.ts';
import { createEvaluationWriter } from '../../src/store/evaluation-writer.ts';
import { evaluation, T0 } from '../reports/evaluations.ts';
import { captureLogger } from '../support/logger.ts';
import { storeContract } from './contract.ts';

const dir = mkdtempSync(join(tmpdir(), 'mailanchor-sqlite-'));
test.after.always(() => rm(dir, { recursive: true, force: true }));
let n = 0;

storeContract(test, {
  name: 'sqlite',
  open: async () => openSqliteStore(join(dir, `contract-${++n}.db`)),
  second: async (s) => openSqliteStore(s.location),
});

test('the file is created 0600 and refused once group or others can read it', async (t) => {
  const path = join(dir, 'mode.db');
  const s = await openStore(decodeConfig({}).config.store, { override: path });
  await s.migrate();
  t.is(statSync(path).mode & 0o777, 0o600);
  await s.close();
  const { chmodSync } = await import('node:fs');
  chmodSync(path, 0o644);
  await t.throwsAsync(openStore(decodeConfig({}).config.store, { override: path }), { message: /accessible by group or others .*chmod 600/ });
});

test('disk full: the error says SQLITE_FULL (not "cannot rollback"), the writer counts the failure, keeps the batch and writes it once there is room', async (t) => {
  const path = join(dir, 'full.db');
  const s = openSqliteStore(path);
  await s.migrate();
  // A "disk" of the pages the file has now plus a few: the next big transaction does not fit.
  const admin = new DatabaseSync(path);
  const pages = Number((admin.prepare('PRAGMA page_count').get() as { page_count: number }).page_count);
  const cap = (extra: number): void => void admin.exec(`PRAGMA max_page_count = ${pages + extra}`);
  // max_page_count is per connection: set it on the connection the store writes with.
  const { logger, lines } = captureLogger();
  const sink = {
    async insertBatch(rows: readonly ReturnType<typeof evaluation>[]) {
      const { batchInserter } = await import('../../src/store/sqlite/evaluations.ts');
      insertOn ??= batchInserter(admin);
      insertOn(rows);
    },
    async close() {},
  };
  let insertOn: ((rows: readonly ReturnType<typeof evaluation>[]) => void) | undefined;
  cap(2);
  const big = Array.from({ length: 200 }, (_, i) => evaluation({ receivedAt: T0 + i, overrideComment: 'x'.repeat(2000) }));
  const err = await t.throwsAsync(sink.insertBatch(big));
  t.regex(err!.message, /database or disk is full/);
  t.notRegex(err!.message, /cannot rollback/);
  t.is((err as { code?: string }).code, 'WRITE_FAILED');

  const writer = createEvaluationWriter({ sink, logger, location: path, maxQueue: 250, batchSize: 200, flushMs: 5, backoffMs: 20, maxBackoffMs: 40 });
  const started = Date.now();
  for (const ev of big) writer.record(ev);
  for (let i = 0; i < 60; i++) writer.record(evaluation({ receivedAt: T0 + 10_000 + i }));
  t.true(Date.now() - started < 1000, 'record() never waits for the store');
  await new Promise((r) => setTimeout(r, 150));
  const during = writer.stats();
  t.true(during.failedBatches >= 1, JSON.stringify(during));
  t.is(during.up, false);
  t.is(during.dropped.queue_full, 10, 'the queue holds 250; the rest are dropped and counted');
  t.is(during.queued, 250);
  const logged = lines.find((l) => /not written/.test(String(l['message'])));
  t.regex(String(logged?.['message'] ?? ''), /DMARC evaluations not written/);
  t.regex(String(logged?.['message'] ?? '') + JSON.stringify(logged), /database or disk is full/, 'the log line names the real cause');

  cap(10_000); // room again
  for (let i = 0; i < 100 && writer.stats().queued > 0; i++) await new Promise((r) => setTimeout(r, 20));
  const after = writer.stats();
  t.is(after.queued, 0);
  t.is(after.recorded, 250);
  t.true(after.up);
  t.is(after.recorded + after.dropped.queue_full, 260, 'every evaluation is written or counted');
  t.true(lines.some((l) => /written again/.test(String(l['message']))));
  await writer.close();
  t.is((await s.evaluations.summary()).count, 250);
  admin.close();
  await s.close();
});

test('a file from before the fleet store (keys schema 2) migrates to 3: its keys stay, the generation counter starts and moves', async (t) => {
  const path = join(dir, 'old.db');
  // The schema as mailanchor wrote it before (src/keys/key-store.ts at aea1918), with one key.
  const old = new DatabaseSync(path);
  old.exec(`CREATE TABLE schema_versions (feature TEXT PRIMARY KEY, version INTEGER NOT NULL);
    CREATE TABLE dkim_keys (id TEXT PRIMARY KEY, domain TEXT NOT NULL, selector TEXT NOT NULL, algorithm TEXT NOT NULL,
      state TEXT NOT NULL, state_since INTEGER NOT NULL, seen_everywhere_at INTEGER, created_at INTEGER NOT NULL,
      private_key_pem TEXT NOT NULL, public_key_pem TEXT NOT NULL, UNIQUE (domain, selector));
    CREATE TABLE key_leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires_at INTEGER NOT NULL);
    INSERT INTO schema_versions VALUES ('keys', 2);
    INSERT INTO dkim_keys VALUES ('k1', 'old.test', 's1', 'rsa-sha256', 'active', 5, NULL, 5, 'pem', 'pub');`);
  old.close();
  const { chmodSync } = await import('node:fs');
  chmodSync(path, 0o600);
  const s = openSqliteStore(path);
  t.deepEqual((await s.schema()).find((f) => f.feature === 'keys'), { feature: 'keys', current: 2, wanted: 3 });
  t.deepEqual((await s.migrate()).find((m) => m.feature === 'keys'), { feature: 'keys', from: 2, to: 3 });
  t.deepEqual((await s.keys.listActive()).map((k) => k.id), ['k1']);
  const g = await s.keys.generation();
  await s.keys.apply([{ id: 'k1', state: 'retired' }], 6);
  t.true((await s.keys.generation()) > g);
  await s.close();
});
