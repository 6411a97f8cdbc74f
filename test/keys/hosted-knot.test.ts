/**
 * A hosted domain against real Knot DNS: the customer's zone (customer.test) is not ours; it
 * CNAMEs fixed selectors into our zone (dkim.provider.test), where rotation publishes by
 * RFC 2136. A key waits while the customer's CNAME is missing, activates once it is there,
 * verifies through the CNAME (followed by Unbound, a real recursive resolver), and the two selectors alternate; a slot is reused only after
 * its previous key was removed.
 */
import test from 'ava';
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import winston from 'winston';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BodyHasher, signMessage } from '../../src/auth/dkim/sign.ts';
import { queryServer } from '../../src/dns/client.ts';
import { mailauthResolver } from '../support/mailauth-resolver.ts';
import { createResolver } from '../../src/dns/resolver.ts';
import { parseTsigKey } from '../../src/dns/tsig.ts';
import { domainDefaults, type DomainKeysConfig } from '../../src/keys/config.ts';
import { customerCnames } from '../../src/keys/hosted.ts';
import type { KeyStore } from '../../src/keys/key-store.ts';
import { rotateDomain, type RotationDeps } from '../../src/keys/rotate.ts';
import { openSigningKeySource } from '../../src/keys/signing-key-source.ts';
import { rfc2136Publisher } from '../../src/publish/publisher.ts';
import { openTestStore } from '../support/store.ts';
import { knotMissing, startKnot, type KnotServer } from '../support/knot.ts';
import { startUnbound, unboundMissing, type UnboundServer } from '../support/unbound.ts';
import { splitMessage } from '../support/raw-message.ts';

const missing = knotMissing() ?? unboundMissing();
const it = missing ? test.serial.skip : test.serial;
if (missing) test.skip(`hosted rotation against Knot: ${missing}`, () => {});

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 10, 1, 12);
const TARGET = 'dkim.provider.test';
let dir = '';
let knot: KnotServer;
let unbound: UnboundServer;
const silent = winston.createLogger({ silent: true });

test.before(async () => {
  if (missing) return;
  dir = await mkdtemp(join(tmpdir(), 'mailanchor-hosted-'));
  knot = await startKnot({ zones: [{ name: 'test' }, { name: 'customer.test' }, { name: TARGET }] });
  unbound = await startUnbound({ stubs: [{ zone: 'customer.test', servers: [knot.server], insecure: true }, { zone: TARGET, servers: [knot.server], insecure: true }] });
});
test.after.always(async () => {
  await unbound?.stop();
  await knot?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const txt = async (name: string): Promise<string[]> => (await queryServer(knot.server, name, 'TXT', { recursionDesired: false, timeoutMs: 2000 })).records.map((r) => r.join(''));

/** Signs a message with the active key of customer.test and verifies it with mailauth through DNS (CNAME → our zone). */
async function signedAndVerified(store: KeyStore): Promise<{ selector: string; result: string }> {
  const source = openSigningKeySource(store, { logger: silent, location: 'test', refreshMs: 60_000 });
  try {
    await source.refresh();
    const [key] = source.activeKeys('customer.test');
    if (!key) return { selector: '', result: 'no active key' };
    const raw = Buffer.from('From: a@customer.test\r\nTo: b@example.test\r\nSubject: hosted\r\n\r\nHello.\r\n');
    const { headers, body } = splitMessage(raw);
    const h = new BodyHasher('relaxed');
    h.write(body);
    const value = await signMessage({ key, headers, bodyHash: h.digest(), canonicalization: 'relaxed/relaxed', signHeaders: ['from', 'to', 'subject'], timestamp: Math.floor(Date.now() / 1000) });
    const signed = Buffer.concat([Buffer.from(`DKIM-Signature: ${value}\r\n`), raw]);
    const res = (await dkimVerify(signed, { resolver: mailauthResolver(createResolver({ servers: [unbound.server] })) as never })) as { results: { status: { result: string } }[] };
    return { selector: key.selector, result: res.results[0]?.status.result ?? 'none' };
  } finally {
    source.close();
  }
}

it('hosted domain: waits for the customer CNAME, activates, verifies through it; selectors alternate and are reused only after removal', async (t) => {
  const storePath = join(dir, 'hosted.db');
  const opened = await openTestStore(storePath);
  const store = opened.keys;
  let now = T0;
  const cfg: DomainKeysConfig = {
    ...domainDefaults(),
    algorithms: ['rsa-sha256'],
    ttl: 60_000,
    ttl_margin: 0,
    nameservers: [knot.server],
    hosted: { target: TARGET, selector_prefix: 'ma', customer_nameservers: [knot.server] },
  };
  const deps: RotationDeps = { store, lease: opened.lease, dns: createResolver({ servers: [knot.server] }), now: () => now, logger: silent, publisherFor: () => rfc2136Publisher(knot.server, parseTsigKey(knot.tsig.spec)), observeTimeoutMs: 1000 };

  let r = await rotateDomain('customer.test', cfg, deps);
  t.is(r.error, undefined);
  t.deepEqual((await store.list('customer.test')).map((k) => [k.selector, k.state]), [['ma-rsa-1', 'published']]);
  t.regex((await txt(`ma-rsa-1.customer.test.${TARGET}`))[0] ?? '', /^v=DKIM1; k=rsa; p=MII/, 'published in our zone, not the customer\'s');

  now += 10 * 60_000;
  r = await rotateDomain('customer.test', cfg, deps);
  t.is((await store.list('customer.test'))[0]!.state, 'published', 'no CNAME at the customer: not activated');
  t.regex(r.keys[0]!.waiting ?? '', /customer CNAME missing: the customer must publish ma-rsa-1\._domainkey\.customer\.test\. CNAME ma-rsa-1\.customer\.test\.dkim\.provider\.test\./);

  // The customer sets the CNAMEs once (slot 2 wrongly at first).
  t.deepEqual(customerCnames(cfg.hosted!, 'customer.test', cfg.algorithms), [
    `ma-rsa-1._domainkey.customer.test. CNAME ma-rsa-1.customer.test.${TARGET}.`,
    `ma-rsa-2._domainkey.customer.test. CNAME ma-rsa-2.customer.test.${TARGET}.`,
  ]);
  await knot.setRecords('customer.test', [
    { name: 'ma-rsa-1._domainkey', type: 'CNAME', ttl: 60, data: `ma-rsa-1.customer.test.${TARGET}.` },
    { name: 'ma-rsa-2._domainkey', type: 'CNAME', ttl: 60, data: `elsewhere.example.` },
  ]);
  await rotateDomain('customer.test', cfg, deps); // seen everywhere now: the TTL clock starts
  now += 60_000;
  await rotateDomain('customer.test', cfg, deps);
  t.is((await store.list('customer.test'))[0]!.state, 'active');
  t.deepEqual(await signedAndVerified(store), { selector: 'ma-rsa-1', result: 'pass' }, 'a verifier follows the customer CNAME to our record');

  // Rotation: the next key takes slot 2, whose CNAME is wrong → it waits, saying so.
  now += 183 * DAY;
  await rotateDomain('customer.test', cfg, deps);
  now += 10 * 60_000;
  r = await rotateDomain('customer.test', cfg, deps);
  const k2 = r.keys.find((k) => k.selector === 'ma-rsa-2');
  t.is(k2?.state, 'published');
  t.regex(k2?.waiting ?? '', /customer CNAME points to elsewhere\.example/);
  await knot.removeRecords('customer.test', [{ name: 'ma-rsa-2._domainkey.customer.test.', type: 'CNAME' }]);
  await knot.setRecords('customer.test', [{ name: 'ma-rsa-2._domainkey', type: 'CNAME', ttl: 60, data: `ma-rsa-2.customer.test.${TARGET}.` }]);
  await rotateDomain('customer.test', cfg, deps);
  now += 60_000;
  await rotateDomain('customer.test', cfg, deps);
  t.deepEqual(Object.fromEntries((await store.list('customer.test')).map((k) => [k.selector, k.state])), { 'ma-rsa-1': 'retired', 'ma-rsa-2': 'active' });
  t.deepEqual(await signedAndVerified(store), { selector: 'ma-rsa-2', result: 'pass' });

  // Forced rotation while slot 1 still holds the retired key: nothing generated, and it says why.
  r = await rotateDomain('customer.test', cfg, deps, { rotateNow: true });
  t.deepEqual(r.notes, ['rsa-sha256: both hosted selectors hold live keys; the next key waits until the older one is removed']);
  t.is((await store.list('customer.test')).length, 2);

  // Retired → revoked → removed; then slot 1 is free and a new key takes it.
  const first = (await store.list('customer.test')).find((k) => k.selector === 'ma-rsa-1')!;
  now += 7 * DAY;
  await rotateDomain('customer.test', cfg, deps);
  t.deepEqual(await txt(`ma-rsa-1.customer.test.${TARGET}`), ['v=DKIM1; k=rsa; p='], 'revoked: empty p=');
  now += 60_000;
  await rotateDomain('customer.test', cfg, deps);
  r = await rotateDomain('customer.test', cfg, deps, { rotateNow: true });
  const again = (await store.list('customer.test')).find((k) => k.selector === 'ma-rsa-1')!;
  t.not(again.id, first.id);
  t.is(again.state, 'published');
  t.not(again.publicKeyPem, first.publicKeyPem, 'a new key in the reused slot');
  t.regex((await txt(`ma-rsa-1.customer.test.${TARGET}`))[0] ?? '', /^v=DKIM1; k=rsa; p=MII/);
});
