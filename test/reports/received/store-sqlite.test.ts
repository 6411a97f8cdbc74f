/** The received-reports contract against the SQLite adapter: a fresh, migrated store file per test. */
import test from 'ava';
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStore } from '../../../src/store/sqlite/store.ts';
import { receivedContract } from './store-contract.ts';

const dir = mkdtempSync(join(tmpdir(), 'mailanchor-received-'));
test.after.always(() => rm(dir, { recursive: true, force: true }));
let n = 0;

receivedContract(test, {
  name: 'sqlite',
  async open(t) {
    const s = openSqliteStore(join(dir, `received-${++n}.db`));
    t.teardown(() => s.close());
    await s.migrate();
    return s;
  },
  async second(t, s) {
    const other = openSqliteStore(s.location);
    t.teardown(() => other.close());
    return other;
  },
});
