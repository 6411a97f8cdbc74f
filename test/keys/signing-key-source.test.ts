/**
 * The milter's key snapshot over the KeyStore port (a fake store here; the store contract
 * suite and the fleet tests run it on SQLite and PostgreSQL): reloads when the generation
 * moves, keeps the last good keys through an outage, and is unhealthy only with no keys read.
 */
import test from 'ava';
import { generateKey } from '../../src/keys/generate.ts';
import type { KeyStore, StoredKey } from '../../src/keys/key-store.ts';
import { openSigningKeySource } from '../../src/keys/signing-key-source.ts';
import { captureLogger } from '../support/logger.ts';

function fakeStore() {
  const k = generateKey('ed25519-sha256');
  let keys: StoredKey[] = [];
  let generation = 1;
  let down: Error | undefined;
  let reads = 0;
  const store: Pick<KeyStore, 'generation' | 'listActive'> = {
    generation: async () => {
      if (down) throw down;
      return generation;
    },
    listActive: async () => {
      if (down) throw down;
      reads++;
      return keys.filter((x) => x.state === 'active');
    },
  };
  return {
    store,
    reads: () => reads,
    activate(selector: string) {
      keys = [...keys.map((x) => ({ ...x, state: 'retired' as const })), { id: selector, domain: 'example.test', selector, algorithm: 'ed25519-sha256', state: 'active', stateSince: 1, createdAt: 1, privateKeyPem: k.privateKeyPem, publicKeyPem: k.publicKeyPem }];
      generation++;
    },
    fail(err: Error | undefined) {
      down = err;
    },
  };
}

test('a key activated elsewhere is used after the next refresh; an unchanged generation reads no keys', async (t) => {
  const f = fakeStore();
  const { logger } = captureLogger();
  const source = openSigningKeySource(f.store, { logger, location: 'fake', refreshMs: 60_000 });
  await source.refresh();
  t.deepEqual(source.activeKeys('example.test'), []);
  t.notThrows(() => source.assertHealthy(), 'read, with no keys: healthy');
  f.activate('s1');
  await source.refresh();
  t.is(source.activeKeys('EXAMPLE.test')[0]?.selector, 's1');
  const reads = f.reads();
  await source.refresh();
  await source.refresh();
  t.is(f.reads(), reads, 'the keys are re-read only when the generation moved');
  source.close();
});

test('store down: the last keys keep signing, the outage is logged once and counted, its end logged', async (t) => {
  const f = fakeStore();
  const { logger, lines } = captureLogger();
  f.activate('s1');
  const source = openSigningKeySource(f.store, { logger, location: 'postgresql://u@db/x', refreshMs: 60_000 });
  await source.refresh();
  f.fail(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }));
  await source.refresh();
  await source.refresh();
  t.is(source.activeKeys('example.test')[0]?.selector, 's1', 'still signing with the last keys');
  t.notThrows(() => source.assertHealthy());
  t.like(source.stats(), { up: false, loaded: true, failures: 2 });
  t.is(lines.filter((l) => /keystore unreadable; signing with the last keys read/.test(String(l['message']))).length, 1, JSON.stringify(lines));
  f.fail(undefined);
  f.activate('s2');
  await source.refresh();
  t.is(source.activeKeys('example.test')[0]?.selector, 's2');
  t.like(source.stats(), { up: true });
  t.true(lines.some((l) => /keystore readable again/.test(String(l['message']))));
  source.close();
});

test('store down from the start: no keys, unhealthy (the outbound filter tempfails), healthy once read', async (t) => {
  const f = fakeStore();
  f.fail(new Error('the database system is starting up'));
  const { logger } = captureLogger();
  const source = openSigningKeySource(f.store, { logger, location: 'fake', refreshMs: 60_000 });
  await source.refresh();
  t.throws(() => source.assertHealthy(), { message: /could not be read: the database system is starting up/ });
  f.fail(undefined);
  await source.refresh();
  t.notThrows(() => source.assertHealthy());
  source.close();
});
