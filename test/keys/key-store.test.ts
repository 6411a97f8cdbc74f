import test from 'ava';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../../src/store/database.ts';
import { SqliteKeyStore } from '../../src/keys/key-store.ts';

const base = { domain: 'example.test', algorithm: 'rsa-sha256' as const, state: 'generated' as const, createdAt: 1, privateKeyPem: 'x', publicKeyPem: 'y' };

test('store file is 0600; a selector is never reused for a different key', (t) => {
  const path = join(mkdtempSync(join(tmpdir(), 'ma-keys-')), 'store.db');
  const db = openDatabase(path);
  const store = new SqliteKeyStore(db);
  store.insert({ ...base, id: 'k1', selector: 'ma20261122r' });
  t.is(statSync(path).mode & 0o777, 0o600);
  t.throws(() => store.insert({ ...base, id: 'k2', selector: 'ma20261122r' }), { message: /UNIQUE/ });
  store.setState('k1', 'published', 5);
  t.like(store.list('example.test')[0], { id: 'k1', state: 'published', stateSince: 5 });
  t.is(store.list().length, 1);
  db.close();
});
