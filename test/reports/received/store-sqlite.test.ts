/** The received-reports contract against the SQLite adapter (a fresh store file per test). */
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../../../src/store/database.ts';
import { SqliteReceivedReports } from '../../../src/store/sqlite/received-reports.ts';
import { storeContract } from './store-contract.ts';

storeContract(test, 'sqlite', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'mailanchor-received-'));
  const db = openDatabase(join(dir, 'store.db'));
  t.teardown(async () => {
    db.close();
    await rm(dir, { recursive: true, force: true });
  });
  return new SqliteReceivedReports(db);
});
