/**
 * Rollover end to end with an injected clock, against two real Knot servers for the
 * zone, the second lagging: nothing says "deploy" before the next record is served by
 * both and 2 × TTL have passed. Drives the CLI (`tlsa rollover`, `tlsa --deploy-check`)
 * and the sidecar step (`syncSite`) publishing through RFC 2136 + TSIG.
 */
import test from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger, transports } from 'winston';
import { Writable } from 'node:stream';
import { run } from '../../src/cli/tlsa.ts';
import { readTlsaSource } from '../../src/dane/cert-input.ts';
import type { DaneSiteConfig } from '../../src/dane/config.ts';
import { observeTlsa } from '../../src/dane/observe.ts';
import { rfc2136Publisher } from '../../src/dane/publisher.ts';
import { emptyState, type RolloverState } from '../../src/dane/rollover.ts';
import { syncSite } from '../../src/dane/sidecar.ts';
import { recordsFor } from '../../src/dane/tlsa-compute.ts';
import { tlsaText } from '../../src/dane/tlsa-params.ts';
import { parseTsigKey } from '../../src/dns/tsig.ts';
import { knotMissing, startKnot, type KnotServer } from '../support/knot.ts';
import { captureIo } from '../support/cli-io.ts';
import { makePki } from './make-certs.ts';

const missing = knotMissing();
const it = missing ? test.serial.skip : test.serial;
if (missing) test.skip(`rollover end to end needs Knot: ${missing}`, () => {});

const pki = makePki('ec');
const newCa = makePki('ec');
const current = pki.leaf('current', 'mx.roll.test', 'ec');
const sameCa = pki.leaf('renewed', 'mx.roll.test', 'ec'); // new key, same CA: covered by 2 1 1
const next = newCa.leaf('next', 'mx.roll.test', 'ec'); // new key, new CA: needs a rollover
const config = join(pki.dir, 'mailanchor.yml');
writeFileSync(config, '# defaults\n');
const stateFile = join(pki.dir, 'state.json');
const T0 = Date.now() + 60_000;
const iso = (ms: number): string => new Date(ms).toISOString();
const TTL = 300;

let primary: KnotServer | undefined;
let lagging: KnotServer | undefined;

test.before(async () => {
  if (missing) return;
  const recs = recordsFor(await readTlsaSource(current.chain, { now: T0 })).map((r) => `_25._tcp.mx ${TTL} IN TLSA ${tlsaText(r)}`).join('\n');
  const zone = { name: 'roll.test', records: recs };
  [primary, lagging] = await Promise.all([startKnot({ zones: [zone] }), startKnot({ zones: [zone] })]);
});
test.after.always(async () => {
  await Promise.all([primary?.stop(), lagging?.stop()]);
  pki.cleanup();
  newCa.cleanup();
});

const auth = (): string[] => ['--auth', primary!.address, '--auth', lagging!.address];
const cli = async (args: string[]) => {
  const io = captureIo();
  const code = await run(args, io);
  return { code, out: io.out(), err: io.err() };
};
const rollover = (now: number) => cli(['rollover', '--host', 'mx.roll.test', '--zone', 'roll.test', current.chain, '--next', next.chain, ...auth(), '--ttl', String(TTL), '--state', stateFile, '--now', iso(now), '--config', config]);
const deployCheck = (cert: string, now: number) => cli(['--deploy-check', cert, '--host', 'mx.roll.test', '--zone', 'roll.test', ...auth(), '--ttl', String(TTL), '--state', stateFile, '--now', iso(now), '--config', config]);

it('deploy is refused until the next record is on both servers for 2 × TTL; then the old record may go', async (t) => {
  let r = await rollover(T0);
  t.is(r.code, 0, r.err);
  t.regex(r.out, /publish-next/);
  t.regex(r.out, /deploy NOT safe/);
  t.is((await deployCheck(next.chain, T0)).code, 1);
  // A renewal from the same CA is already covered by the published 2 1 1.
  const renewed = await deployCheck(sameCa.chain, T0);
  t.is(renewed.code, 1, 'the state has only seen the records now: wait 2 × TTL even for them');
  t.is((await deployCheck(sameCa.chain, T0 + 2 * TTL * 1000)).code, 0);

  // Publish current + next on the primary through RFC 2136 + TSIG; the secondary lags.
  const nextRecs = recordsFor(await readTlsaSource(next.chain, { now: T0 }));
  const curRecs = recordsFor(await readTlsaSource(current.chain, { now: T0 }));
  await rfc2136Publisher(primary!.server, parseTsigKey(primary!.tsig.spec)).replace('roll.test', '_25._tcp.mx.roll.test.', [...curRecs, ...nextRecs], TTL);
  for (const dt of [1, 3_600, 86_400]) {
    const now = T0 + dt * 1000;
    r = await rollover(now);
    t.regex(r.out, /publish-next/, `lagging server, +${dt}s`);
    const d = await deployCheck(next.chain, now);
    t.is(d.code, 1, `+${dt}s: ${d.err}`);
  }
  // The secondary catches up.
  await lagging!.setRecords('roll.test', nextRecs.map((x) => ({ name: '_25._tcp.mx', type: 'TLSA', ttl: TTL, data: tlsaText(x) })));
  const seen = T0 + 90_000_000;
  r = await rollover(seen);
  t.regex(r.out, /; wait: /);
  t.is((await deployCheck(next.chain, seen)).code, 1);
  t.is((await deployCheck(next.chain, seen + 2 * TTL * 1000 - 1)).code, 1);
  const ok = await deployCheck(next.chain, seen + 2 * TTL * 1000);
  t.is(ok.code, 0, ok.err);
  r = await rollover(seen + 2 * TTL * 1000);
  t.regex(r.out, /deploy-next/);
  t.regex(r.out, /deploy SAFE/);
  // The next certificate is in service: only its records stay, the old ones may go.
  const after = await cli(['rollover', '--host', 'mx.roll.test', '--zone', 'roll.test', next.chain, ...auth(), '--ttl', String(TTL), '--state', stateFile, '--now', iso(seen + 3 * TTL * 1000), '--config', config, '--format', 'json']);
  const plan = JSON.parse(after.out) as { phase: string; publish: string[]; remove: string[] };
  t.is(plan.phase, 'retire-old');
  t.deepEqual(plan.publish, nextRecs.map(tlsaText));
  t.deepEqual(plan.remove.sort(), curRecs.map(tlsaText).sort());
});

it('sidecar step: publishes current + next via RFC 2136, never reports deploy-safe while a server lags', async (t) => {
  const lines: string[] = [];
  const logger = createLogger({ transports: [new transports.Stream({ stream: new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) }) })] });
  const other = pki.leaf('sidecar-next', 'mx.roll.test', 'ec');
  const site: DaneSiteConfig = { host: 'side.roll.test', port: 25, proto: 'tcp', zone: 'roll.test', cert_files: [current.chain], next_files: [other.key], records: 'smtp', authoritative: [primary!.server, lagging!.server], ttl: TTL * 1000 };
  let state: RolloverState = emptyState('_25._tcp.side.roll.test.');
  let now = T0;
  const deps = {
    publisher: rfc2136Publisher(primary!.server, parseTsigKey(primary!.tsig.spec)),
    observe: (s: DaneSiteConfig, owner: string) => observeTlsa(owner, { zone: 'roll.test', servers: s.authoritative }),
    loadState: async () => state,
    saveState: async (s: RolloverState) => void (state = s),
    now: () => now,
    logger,
  };
  let r = await syncSite(site, deps);
  t.true(r.ok && r.published && r.plan.phase === 'publish-next');
  now += 86_400_000;
  r = await syncSite(site, deps);
  // Still missing on the lagging server: the RRset is sent again (idempotent), deploy stays unsafe.
  t.true(r.ok && r.plan.phase === 'publish-next' && r.plan.deploy?.safe === false, JSON.stringify(r.ok && r.plan.phase));
  const want = r.ok ? r.plan.publish : [];
  await lagging!.setRecords('roll.test', want.map((x) => ({ name: '_25._tcp.side', type: 'TLSA', ttl: TTL, data: tlsaText(x) })));
  r = await syncSite(site, deps);
  t.true(r.ok && r.plan.phase === 'wait');
  now += 2 * TTL * 1000;
  r = await syncSite(site, deps);
  t.true(r.ok && r.plan.phase === 'deploy-next' && r.plan.deploy?.safe === true);
  t.true(lines.some((l) => l.includes('published TLSA RRset')));
  // Bad input: nothing is published, the error names the file.
  const broken = join(pki.dir, 'broken.pem');
  writeFileSync(broken, 'not a cert');
  const bad = await syncSite({ ...site, cert_files: [broken] }, deps);
  t.false(bad.ok);
  t.true(!bad.ok && bad.error.includes(broken));
});

it('deploy-check: a silent nameserver means "not safe" (1); an unreadable certificate means "cannot tell" (2)', async (t) => {
  const fast = join(pki.dir, 'fast.yml');
  writeFileSync(fast, 'dane:\n  timeout: 300ms\n');
  await lagging!.freeze();
  try {
    const r = await cli(['--deploy-check', current.chain, '--host', 'mx.roll.test', '--zone', 'roll.test', ...auth(), '--ttl', String(TTL), '--state', join(pki.dir, 'state2.json'), '--now', iso(T0), '--config', fast]);
    t.is(r.code, 1, r.err);
    t.regex(r.err, /not serving/);
  } finally {
    await lagging!.thaw();
  }
  const bad = await cli(['--deploy-check', join(pki.dir, 'nope.pem'), '--host', 'mx.roll.test', '--zone', 'roll.test', ...auth(), '--state', join(pki.dir, 'state3.json'), '--config', config]);
  t.is(bad.code, 2);
  t.regex(bad.err, /nope\.pem/);
});
