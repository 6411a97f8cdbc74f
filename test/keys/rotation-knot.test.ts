/**
 * Key rotation against real Knot DNS on loopback, with an injected clock: RFC 2136 + TSIG to a
 * primary while a second authoritative server lags (no activation until both serve the
 * record and the TTL has passed), retire → revoke (p= empty) → remove on schedule, a
 * signing-key source opened before the rotation sees the new key, a zone-file fragment
 * loaded by Knot through $INCLUDE, a kill -9 mid-run, concurrent runs, OpenDKIM import.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import winston from 'winston';
import { parseTsigKey } from '../../src/dns/tsig.ts';
import { createResolver } from '../../src/dns/resolver.ts';
import { queryServer } from '../../src/dns/client.ts';
import { domainDefaults, type DomainKeysConfig } from '../../src/keys/config.ts';
import type { KeyStore } from '../../src/keys/key-store.ts';
import { recordName, recordSet, rotateDomain, type RotationDeps } from '../../src/keys/rotate.ts';
import { openSigningKeySource } from '../../src/keys/signing-key-source.ts';
import { rfc2136Publisher, zoneFilePublisher } from '../../src/publish/publisher.ts';
import { openTestStore } from '../support/store.ts';
import { run as keysCli } from '../../src/cli/keys.ts';
import { knotMissing, startKnot, type KnotServer } from '../support/knot.ts';

const missing = knotMissing();
const it = missing ? test.serial.skip : test.serial;
if (missing) test.skip(`rotation against Knot: ${missing}`, () => {});

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 10, 1, 12);
let dir = '';
let primary: KnotServer;
let lagging: KnotServer;
const silent = winston.createLogger({ silent: true });

test.before(async () => {
  if (missing) return;
  dir = await mkdtemp(join(tmpdir(), 'mailanchor-rotate-'));
  writeFileSync(join(dir, 'frag.zone'), '; empty until mailanchor writes it\n');
  chmodSync(dir, 0o755);
  primary = await startKnot({ zones: [{ name: 'rot.test' }, { name: 'crash.test' }, { name: 'race.test' }, { name: 'frag.test', records: `$INCLUDE ${join(dir, 'frag.zone')}` }] });
  lagging = await startKnot({ zones: [{ name: 'rot.test', allowUpdate: false }] });
});
test.after.always(async () => {
  await primary?.stop();
  await lagging?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function served(server: { host: string; port: number }, name: string): Promise<string[]> {
  const a = await queryServer(server, name, 'TXT', { recursionDesired: false, timeoutMs: 2000 });
  return a.records.map((r) => r.join(''));
}

/** Copies what the primary should serve for `domain` to the lagging server (it "catches up"). */
async function catchUp(domain: string, store: KeyStore, cfg: DomainKeysConfig): Promise<void> {
  const set = recordSet(domain, cfg, (await store.list(domain)), new Map());
  const present = [];
  for (const n of set.names) if ((await served(lagging.server, n)).length) present.push({ name: `${n}.`, type: 'TXT' });
  if (present.length) await lagging.removeRecords(domain, present);
  await lagging.setRecords(domain, set.records.map((r) => ({ name: `${r.name}.`, type: 'TXT', ttl: r.ttl, data: r.data.map((s) => `"${s}"`).join(' ') })));
}

it('full rotation: publish by RFC 2136, wait for the lagging server and the TTL, activate, rotate after the lifetime, retire → revoke → remove', async (t) => {
  const storePath = join(dir, 'rot.db');
  const opened = await openTestStore(storePath);
  const store = opened.keys;
  const source = openSigningKeySource(store, { logger: silent, location: storePath, refreshMs: 60_000 });
  let now = T0;
  const cfg: DomainKeysConfig = { ...domainDefaults(), ttl: 60_000, ttl_margin: 30_000, nameservers: [primary.server, lagging.server] };
  const deps: RotationDeps = { store, lease: opened.lease, dns: createResolver({ servers: [primary.server] }), now: () => now, logger: silent, publisherFor: () => rfc2136Publisher(primary.server, parseTsigKey(primary.tsig.spec)), observeTimeoutMs: 1000 };

  let r = await rotateDomain('rot.test', cfg, deps);
  t.is(r.error, undefined);
  t.deepEqual((await store.list('rot.test')).map((k) => k.state), ['published', 'published']);
  const rsa = (await store.list('rot.test')).find((k) => k.algorithm === 'rsa-sha256');
  const ed = (await store.list('rot.test')).find((k) => k.algorithm === 'ed25519-sha256');
  t.is((await served(primary.server, recordName('rot.test', rsa!.selector))).length, 1, 'the primary serves it');
  t.is((await served(lagging.server, recordName('rot.test', rsa!.selector))).length, 0, 'the second server lags');

  now += 3_600_000;
  r = await rotateDomain('rot.test', cfg, deps);
  t.deepEqual((await store.list('rot.test')).map((k) => k.state), ['published', 'published'], 'seen on one server only: not active');
  t.regex(r.keys.find((k) => k.state === 'published')!.waiting ?? '', /seen on 1 of 2 nameservers/);

  // The second server stops answering altogether: still waiting, and the status says why.
  await lagging.freeze();
  try {
    now += 3_600_000;
    r = await rotateDomain('rot.test', cfg, deps);
    t.deepEqual((await store.list('rot.test')).map((k) => k.state), ['published', 'published'], 'a silent nameserver: not active');
    t.regex(r.keys.find((k) => k.state === 'published')!.waiting ?? '', /seen on 1 of 2 nameservers; 127\.0\.0\.1:\d+: timeout/);
  } finally {
    await lagging.thaw();
  }

  await catchUp('rot.test', store, cfg);
  now += 60_000;
  r = await rotateDomain('rot.test', cfg, deps);
  t.deepEqual((await store.list('rot.test')).map((k) => k.state), ['published', 'published'], 'seen everywhere, but TTL + margin not yet passed');
  t.regex(r.keys.find((k) => k.state === 'published')!.waiting ?? '', /waiting for TTL \+ margin/);

  now += 89_000;
  r = await rotateDomain('rot.test', cfg, deps);
  t.deepEqual((await store.list('rot.test')).map((k) => k.state), ['published', 'published'], '1 s before TTL + margin');
  now += 1_000;
  r = await rotateDomain('rot.test', cfg, deps);
  t.deepEqual((await store.list('rot.test')).map((k) => k.state), ['active', 'active']);
  await source.refresh();
  t.deepEqual(source.activeKeys('rot.test').map((k) => k.selector).sort(), [rsa!.selector, ed!.selector].sort(), 'the milter\'s key source sees them');

  // Lifetime over: new keys, the old ones stay active until the new ones are seen everywhere.
  now += 183 * DAY;
  r = await rotateDomain('rot.test', cfg, deps);
  t.is((await store.list('rot.test')).filter((k) => k.state === 'published').length, 2);
  t.is((await store.list('rot.test')).filter((k) => k.state === 'active').length, 2);
  await catchUp('rot.test', store, cfg);
  now += 60_000;
  await rotateDomain('rot.test', cfg, deps);
  now += 90_000;
  r = await rotateDomain('rot.test', cfg, deps);
  const states = Object.fromEntries((await store.list('rot.test')).map((k) => [k.selector, k.state]));
  t.is(states[rsa!.selector], 'retired');
  t.is(Object.values(states).filter((s) => s === 'active').length, 2, 'exactly one active key per algorithm');
  await source.refresh();
  t.false(source.activeKeys('rot.test').some((k) => k.selector === rsa!.selector));
  t.regex((await served(primary.server, recordName('rot.test', rsa!.selector)))[0] ?? '', /^v=DKIM1; k=rsa; p=MII/, 'retired keys stay published');

  now += 7 * DAY;
  await rotateDomain('rot.test', cfg, deps);
  t.is((await store.list('rot.test')).find((k) => k.id === rsa!.id)?.state, 'revoked');
  t.deepEqual(await served(primary.server, recordName('rot.test', rsa!.selector)), ['v=DKIM1; k=rsa; p='], 'revoked: empty p=');

  now += 60_000 + 30_000;
  await rotateDomain('rot.test', cfg, deps);
  t.is((await store.list('rot.test')).find((k) => k.id === rsa!.id)?.state, 'removed');
  t.deepEqual(await served(primary.server, recordName('rot.test', rsa!.selector)), []);
  source.close();
});

it('zone-file publisher: the fragment Knot $INCLUDEs is rewritten and reloaded; the key activates', async (t) => {
  const opened = await openTestStore(join(dir, 'frag.db'));
  const store = opened.keys;
  let now = T0;
  const cfg: DomainKeysConfig = { ...domainDefaults(), algorithms: ['ed25519-sha256'], ttl: 60_000, ttl_margin: 0, nameservers: [primary.server] };
  const deps: RotationDeps = { store, lease: opened.lease, dns: createResolver({ servers: [primary.server] }), now: () => now, logger: silent, publisherFor: () => zoneFilePublisher({ file: join(dir, 'frag.zone'), reload: primary.reloadCommand('frag.test') }) };
  await rotateDomain('frag.test', cfg, deps);
  const k = (await store.list('frag.test'))[0]!;
  // `knotc zone-reload` queues the reload; the rotation itself only trusts what it observes.
  let value = '';
  for (let i = 0; i < 50 && !value; i++) {
    value = (await served(primary.server, recordName('frag.test', k.selector)))[0] ?? '';
    if (!value) await new Promise((r) => setTimeout(r, 100));
  }
  t.regex(value, /^v=DKIM1; k=ed25519; p=/, primary.logs().split('\n').filter((l) => l.includes('frag')).slice(-6).join('\n'));
  now += 61_000;
  await rotateDomain('frag.test', cfg, deps); // seen
  now += 61_000;
  await rotateDomain('frag.test', cfg, deps);
  t.is((await store.list('frag.test'))[0]!.state, 'active');
});

it('kill -9 right after publishing, before the commit: the next run completes without a double key', async (t) => {
  const storePath = join(dir, 'crash.db');
  await (await openTestStore(storePath)).close();
  const runner = new URL('./crash-runner.ts', import.meta.url).pathname;
  const code = await new Promise<string | null>((resolve) =>
    execFile(process.execPath, [runner, storePath, primary.server.host, String(primary.server.port), primary.tsig.spec, String(T0), 'after-publish'], (err) => resolve(err ? ((err as { signal?: string }).signal ?? 'error') : null)),
  );
  t.is(code, 'SIGKILL');
  const opened = await openTestStore(storePath);
  const store = opened.keys;
  t.deepEqual((await store.list('crash.test')).map((k) => k.state).sort(), ['generated', 'generated'], 'killed before the commit: keys generated, states not advanced');
  const cfg = { ...domainDefaults(), ttl: 60_000, ttl_margin: 0, nameservers: [primary.server] };
  const deps: RotationDeps = { store, lease: opened.lease, dns: createResolver({ servers: [primary.server] }), now: () => T0 + 1000, logger: silent, publisherFor: () => rfc2136Publisher(primary.server, parseTsigKey(primary.tsig.spec)) };
  const r = await rotateDomain('crash.test', cfg, deps);
  t.is(r.error, undefined);
  t.deepEqual((await store.list('crash.test')).map((k) => k.state), ['published', 'published'], 'the same two keys, published — no second pair');
  t.false((await store.list('crash.test')).some((k) => k.state === 'active'), 'never active before seen everywhere');
});

it('two rotations at once: one holds the lease, the other does nothing', async (t) => {
  const storePath = join(dir, 'race.db');
  const stores = [await openTestStore(storePath), await openTestStore(storePath)];
  const cfg = { ...domainDefaults(), ttl: 60_000, nameservers: [primary.server] };
  const mk = (i: number): RotationDeps => ({ store: stores[i]!.keys, lease: stores[i]!.lease, dns: createResolver({ servers: [primary.server] }), now: () => T0, logger: silent, publisherFor: () => rfc2136Publisher(primary.server, parseTsigKey(primary.tsig.spec)) });
  const [a, b] = await Promise.all([rotateDomain('race.test', cfg, mk(0)), rotateDomain('race.test', cfg, mk(1))]);
  t.is([a, b].filter((r) => r.skipped).length, 1);
  t.is((await stores[0]!.keys.list('race.test')).length, 2, 'one key per algorithm, not two');
  for (const s of stores) await s.close();
});

// The whole migration (SigningTable, keys served by DNS → active, rotation, OpenDKIM as the
// reference signer) is test/keys/opendkim-migration.test.ts; this is the key DNS does not serve.
(existsSync('/usr/sbin/opendkim-genkey') ? it : test.skip)('import of an OpenDKIM KeyTable key no nameserver serves: kept with its selector as published, never active unseen', async (t) => {
  const kdir = join(dir, 'opendkim');
  mkdirSync(kdir);
  await new Promise<void>((resolve, reject) => execFile('/usr/sbin/opendkim-genkey', ['-b', '2048', '-d', 'imp.test', '-s', 'mail', '-D', kdir], (err) => (err ? reject(err) : resolve())));
  const keytable = join(dir, 'KeyTable');
  writeFileSync(keytable, `# OpenDKIM KeyTable\nmail._domainkey.imp.test imp.test:mail:${join(kdir, 'mail.private')}\n`);
  const out = new PassThrough();
  let text = '';
  out.on('data', (d: Buffer) => (text += d.toString()));
  const io = { stdout: out, stderr: out, env: {}, cwd: dir };
  chmodSync(join(kdir, 'mail.private'), 0o644);
  t.is(await keysCli(['import', '--keytable', keytable, '--store', join(dir, 'imp.db'), '--dns', primary.address], io), 65, 'a key file others can read is refused: EX_DATAERR');
  t.regex(text, /readable by group or others/);
  chmodSync(join(kdir, 'mail.private'), 0o600);
  t.is(await keysCli(['import', '--keytable', keytable, '--store', join(dir, 'imp.db'), '--dns', primary.address], io), 0, text);
  t.regex(text, /imp\.test mail: imported rsa-sha256 .* as published — not yet served as is by every authoritative nameserver/);
  text = '';
  t.is(await keysCli(['list', '--store', join(dir, 'imp.db')], io), 0);
  t.regex(text, /^imp\.test mail rsa-sha256 published /m);
});
