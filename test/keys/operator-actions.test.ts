/**
 * `keys retire` and `keys import` under the rotation lease (src/keys/operator-actions.ts),
 * against the real SQLite store: while a rotation on another host holds the domain's lease,
 * neither writes; they go through when it is released, or give up with `lease-busy`. A
 * retire racing a real `rotateDomain` waits for it to finish instead of committing between
 * its read and its write.
 */
import test from 'ava';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import winston from 'winston';
import { domainDefaults } from '../../src/keys/config.ts';
import { KeystoreError } from '../../src/keys/errors.ts';
import { generateKey } from '../../src/keys/generate.ts';
import { importKey, retireKey, type OperatorDeps } from '../../src/keys/operator-actions.ts';
import { domainLease, LEASE_MS, rotateDomain } from '../../src/keys/rotate.ts';
import type { Store } from '../../src/store/store.ts';
import { fakeLookup } from '../support/fake-dns.ts';
import { openTestStore } from '../support/store.ts';

let dir = '';
let store: Store;
test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mailanchor-opactions-'));
  store = await openTestStore(join(dir, 'keys.db'));
});
test.after.always(async () => {
  await store?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function activeKey(domain: string, age = 0): Promise<string> {
  const g = generateKey('ed25519-sha256');
  const id = randomUUID();
  await store.keys.insert({ id, domain, selector: `s${id.slice(0, 6)}`, algorithm: 'ed25519-sha256', state: 'active', createdAt: Date.now() - age, privateKeyPem: g.privateKeyPem, publicKeyPem: g.publicKeyPem });
  return `s${id.slice(0, 6)}`;
}

const deps = (over: Partial<OperatorDeps> = {}): OperatorDeps => ({ store: store.keys, lease: store.lease, dns: fakeLookup({}), now: Date.now, leaseWaitMs: 5000, ...over });
const stateOf = async (domain: string, selector: string) => (await store.keys.list(domain)).find((k) => k.selector === selector)?.state;

test.serial('retire waits while a rotation holds the lease, and writes once it is released', async (t) => {
  const sel = await activeKey('wait.test');
  t.true(await store.lease.acquire(domainLease('wait.test'), 'other-host:1:rotation', Date.now(), LEASE_MS));
  let done = false;
  const p = retireKey('wait.test', sel, deps()).then((r) => ((done = true), r));
  await new Promise((r) => setTimeout(r, 700));
  t.false(done, 'still waiting for the lease');
  t.is(await stateOf('wait.test', sel), 'active', 'nothing written while the rotation holds it');
  await store.lease.release(domainLease('wait.test'), 'other-host:1:rotation');
  t.like(await p, { ok: true, leavesNoActive: true });
  t.is(await stateOf('wait.test', sel), 'retired');
});

test.serial('retire and import give up with lease-busy when the lease is never released', async (t) => {
  const sel = await activeKey('busy.test');
  t.true(await store.lease.acquire(domainLease('busy.test'), 'other-host:1:rotation', Date.now(), LEASE_MS));
  const err = await t.throwsAsync(retireKey('busy.test', sel, deps({ leaseWaitMs: 300 })), { instanceOf: KeystoreError });
  t.is(err.code, 'lease-busy');
  t.regex(err.message, /a key rotation of busy\.test holds its lease/);
  const g = generateKey('rsa-sha256');
  const imported = { domain: 'busy.test', selector: 'mail', algorithm: 'rsa-sha256' as const, privateKeyPem: g.privateKeyPem, publicKeyPem: g.publicKeyPem, file: 'mail.private' };
  const err2 = await t.throwsAsync(importKey(imported, domainDefaults(), deps({ leaseWaitMs: 300 })), { instanceOf: KeystoreError });
  t.is(err2.code, 'lease-busy');
  t.is(await stateOf('busy.test', sel), 'active');
  t.is(await stateOf('busy.test', 'mail'), undefined);
  await store.lease.release(domainLease('busy.test'), 'other-host:1:rotation');
});

test.serial('a retire racing a real rotation waits for it: the rotation commits first, then the retire', async (t) => {
  const domain = 'race.test';
  const sel = await activeKey(domain, 10_000); // past its lifetime: the rotation generates a successor
  // A rotation that is slow inside its lease: publishing (a DNS UPDATE, a zone reload) takes 800 ms.
  const order: string[] = [];
  const cfg = { ...domainDefaults(), algorithms: ['ed25519-sha256' as const], lifetime: 1000 };
  const rotation = rotateDomain(domain, cfg, { store: store.keys, lease: store.lease, dns: fakeLookup({}), now: Date.now, logger: winston.createLogger({ silent: true }), publisherFor: () => ({ name: 'slow', manual: false, publish: async () => { await new Promise((r) => setTimeout(r, 800)); order.push('published'); } }) }).then((r) => (order.push('rotation done'), r));
  await new Promise((r) => setTimeout(r, 100));
  const retire = retireKey(domain, sel, deps()).then((r) => (order.push('retired'), r));
  const [rot, ret] = await Promise.all([rotation, retire]);
  t.is(rot.error, undefined, JSON.stringify(rot));
  t.like(ret, { ok: true });
  t.is(order.indexOf('rotation done') < order.indexOf('retired'), true, order.join(' → '));
  const keys = await store.keys.list(domain);
  t.deepEqual(keys.map((k) => k.state).sort(), ['published', 'retired'], 'the rotation generated and published its successor; the retire came after');
});
