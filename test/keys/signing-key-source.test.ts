import test from 'ava';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import winston from 'winston';
import { openDatabase } from '../../src/store/database.ts';
import { SqliteKeyStore } from '../../src/keys/key-store.ts';
import { generateKey } from '../../src/keys/generate.ts';
import { openSigningKeySource } from '../../src/keys/signing-key-source.ts';

test('a key activated by another connection is seen on the next refresh, without reopening', (t) => {
  const path = join(mkdtempSync(join(tmpdir(), 'ma-src-')), 'store.db');
  const db = openDatabase(path);
  const store = new SqliteKeyStore(db);
  const k = generateKey('ed25519-sha256');
  store.insert({ id: 'k1', domain: 'example.test', selector: 's1', algorithm: 'ed25519-sha256', state: 'published', createdAt: 1, privateKeyPem: k.privateKeyPem, publicKeyPem: k.publicKeyPem });
  const logger = winston.createLogger({ silent: true });
  const source = openSigningKeySource(path, { logger, refreshMs: 60_000 });
  t.deepEqual(source.activeKeys('example.test'), []);
  store.setState('k1', 'active', 2);
  source.refresh();
  t.is(source.activeKeys('example.test')[0]?.selector, 's1');
  t.notThrows(() => source.assertHealthy());
  source.close();
  db.close();
});
