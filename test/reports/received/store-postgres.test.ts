/**
 * The received-reports contract against the PostgreSQL adapter, on a real PostgreSQL
 * (Debian's, started by this file in a temp dir on a loopback port): a fresh database per test.
 */
import test from 'ava';
import { decodeConfig } from '../../../src/config/load.ts';
import { openStore } from '../../../src/store/open.ts';
import type { Store } from '../../../src/store/store.ts';
import { postgresMissing, startPostgres, type PostgresServer } from '../../support/postgres.ts';
import { receivedContract } from './store-contract.ts';

const missing = postgresMissing();
if (missing) test.skip(`received history on PostgreSQL: ${missing}`, () => {});

let pg: PostgresServer | undefined;
test.before(async () => {
  if (!missing) pg = await startPostgres();
});
test.after.always(async () => {
  await pg?.stop();
});

async function open(url: string): Promise<Store> {
  // A generous connect timeout: the machine running the tests may be loaded.
  return openStore({ ...decodeConfig({}).config.store, connect_timeout: 30_000 }, { override: url });
}

if (!missing) {
  receivedContract(test, {
    name: 'postgres',
    async open(t) {
      const s = await open(pg!.url(await pg!.createDatabase()));
      t.teardown(() => s.close());
      await s.migrate();
      return s;
    },
    async second(t, s) {
      const other = await open(pg!.url(s.location.split('/').pop()!));
      t.teardown(() => other.close());
      return other;
    },
  });
}
