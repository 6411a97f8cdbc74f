/**
 * Two hosts rotating one domain on one PostgreSQL (test/fleet/rotate-runner.ts, one process
 * per host, each with its own host name in the lease): while one holds the lease the other
 * does nothing; a holder killed with SIGKILL mid-rotation keeps the others out until its lease
 * expires, then another host takes over and finishes. Throughout: never an active key that is
 * not served by every nameserver (two Knot servers, the second updated by hand, late), and at
 * most one active key per algorithm.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeConfig } from '../../src/config/load.ts';
import { queryServer } from '../../src/dns/client.ts';
import { domainDefaults } from '../../src/keys/config.ts';
import type { StoredKey } from '../../src/keys/key-store.ts';
import { LEASE_MS, recordSet, type DomainReport } from '../../src/keys/rotate.ts';
import { openStore } from '../../src/store/open.ts';
import type { Store } from '../../src/store/store.ts';
import { knotMissing, startKnot, type KnotServer } from '../support/knot.ts';
import { postgresMissing, startPostgres, type PostgresServer } from '../support/postgres.ts';

const missing = postgresMissing() ?? knotMissing();
const it = missing ? test.serial.skip : test.serial;
if (missing) test.skip(`rotation race on PostgreSQL: ${missing}`, () => {});

const RUNNER = new URL('./rotate-runner.ts', import.meta.url).pathname;
const T0 = Date.UTC(2026, 11, 1, 9);
let pg: PostgresServer;
let primary: KnotServer;
let second: KnotServer;

test.before(async () => {
  if (missing) return;
  pg = await startPostgres();
  primary = await startKnot({ zones: [{ name: 'race.test' }] });
  second = await startKnot({ zones: [{ name: 'race.test', allowUpdate: false }] });
});
test.after.always(async () => {
  await primary?.stop();
  await second?.stop();
  await pg?.stop();
});

interface Run {
  readonly output: Promise<{ code: number | null; signal: string | null; report?: DomainReport; lines: string[] }>;
  /** Resolves when the runner printed `at POINT`. */
  readonly reached: Promise<void>;
}

function runHost(url: string, host: string, now: number, point: string, action: string): Run {
  const child = spawn(process.execPath, [RUNNER, url, host, String(now), String(primary.server.port), String(second.server.port), primary.tsig.spec, point, action], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let reachedResolve!: () => void;
  const reached = new Promise<void>((r) => (reachedResolve = r));
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    if (out.includes(`at ${point}`)) reachedResolve();
  });
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const output = new Promise<{ code: number | null; signal: string | null; report?: DomainReport; lines: string[] }>((resolve) =>
    child.once('exit', (code, signal) => {
      reachedResolve();
      const lines = out.split('\n').filter(Boolean);
      const json = lines.find((l) => l.startsWith('{'));
      resolve({ code, signal, lines: [...lines, ...(err ? [`stderr: ${err}`] : [])], ...(json ? { report: JSON.parse(json) as DomainReport } : {}) });
    }),
  );
  return { output, reached };
}

async function served(server: { host: string; port: number }, name: string): Promise<string[]> {
  return (await queryServer(server, name, 'TXT', { recursionDesired: false, timeoutMs: 2000 })).records.map((r) => r.join(''));
}

/** The invariants of docs/keys.md, checked against what both nameservers serve now. */
async function invariants(t: { true(v: boolean, m?: string): void; is(a: unknown, b: unknown, m?: string): void }, keys: readonly StoredKey[], when: string): Promise<void> {
  const cfg = domainDefaults();
  for (const alg of ['rsa-sha256', 'ed25519-sha256']) t.true(keys.filter((k) => k.algorithm === alg && k.state === 'active').length <= 1, `${when}: at most one active ${alg} key`);
  for (const k of keys.filter((x) => x.state === 'active')) {
    const set = recordSet('race.test', cfg, [k], new Map());
    const want = set.records[0]!.data.join('');
    for (const s of [primary, second]) t.true((await served(s.server, set.names[0]!)).includes(want), `${when}: active ${k.selector} is served by ${s.address}`);
  }
}

/** The second nameserver catches up with the primary for every record of the domain. */
async function catchUp(store: Store): Promise<void> {
  const set = recordSet('race.test', { ...domainDefaults(), ttl: 60_000 }, await store.keys.list('race.test'), new Map()); // the runner's TTL
  for (const n of set.names) if ((await served(second.server, n)).length) await second.removeRecords('race.test', [{ name: `${n}.`, type: 'TXT' }]);
  await second.setRecords('race.test', set.records.map((r) => ({ name: `${r.name}.`, type: 'TXT', ttl: r.ttl, data: r.data.map((s) => `"${s}"`).join(' ') })));
}

it('two hosts start `keys rotate` at once: the one holding the lease advances, the other does nothing', async (t) => {
  const url = pg.url(await pg.createDatabase());
  const store = await openStore(decodeConfig({}).config.store, { override: url });
  try {
    await store.migrate();
    // Host A stops with the lease held, right after storing its new keys; host B runs then;
    // A goes on once B is done.
    const gate = mkdtempSync(join(tmpdir(), 'mailanchor-race-'));
    const go = join(gate, 'go');
    const a = runHost(url, 'host-a.fleet.test', T0, 'after-generate', `until:${go}`);
    await a.reached;
    const rb = await runHost(url, 'host-b.fleet.test', T0, 'none', 'none').output;
    writeFileSync(go, '');
    const ra = await a.output;
    rmSync(gate, { recursive: true, force: true });
    t.is(ra.code, 0, ra.lines.join('\n'));
    t.is(rb.code, 0, rb.lines.join('\n'));
    t.deepEqual(ra.report?.actions.filter((x) => x.startsWith('generated')).length, 2, 'A generated one key per algorithm');
    t.regex(rb.report?.skipped ?? '', /another rotation holds the lease; nothing done/);
    t.deepEqual(rb.report?.actions, []);
    const keys = await store.keys.list('race.test');
    t.is(keys.length, 2, 'one key per algorithm, not two');
    t.deepEqual(keys.map((k) => k.state), ['published', 'published']);
    await invariants(t, keys, 'after the race');
  } finally {
    await store.close();
  }
});

it('kill -9 of the holder mid-rotation: the other host waits for the lease to expire, then takes over; the invariants hold at every step', async (t) => {
  const url = pg.url(await pg.createDatabase());
  const store = await openStore(decodeConfig({}).config.store, { override: url });
  try {
    await store.migrate();
    // Host A generates the domain's first keys, publishes them, and is killed before its commit.
    const killed = await runHost(url, 'host-a.fleet.test', T0, 'after-publish', 'kill').output;
    t.is(killed.signal, 'SIGKILL', killed.lines.join('\n'));
    const afterKill = await store.keys.list('race.test');
    t.deepEqual(afterKill.map((k) => k.state), ['generated', 'generated'], 'killed before its commit: stored, not advanced');
    await invariants(t, afterKill, 'after the kill');

    // Host B, while A's lease is live: it cannot tell A is dead (another host's process), so it waits.
    const blocked = await runHost(url, 'host-b.fleet.test', T0 + 60_000, 'none', 'none').output;
    t.regex(blocked.report?.skipped ?? '', /another rotation holds the lease/, blocked.lines.join('\n'));
    t.deepEqual((await store.keys.list('race.test')).map((k) => k.state), ['generated', 'generated']);

    // After the lease expired: B takes over and finishes A's pass (publication is idempotent) — no second key pair.
    let now = T0 + LEASE_MS + 1;
    const takeover = await runHost(url, 'host-b.fleet.test', now, 'none', 'none').output;
    t.is(takeover.report?.skipped, undefined, takeover.lines.join('\n'));
    t.is(takeover.report?.error, undefined);
    let keys = await store.keys.list('race.test');
    t.deepEqual(keys.map((k) => [k.id, k.state]), afterKill.map((k) => [k.id, 'published']), 'the same two keys, published');
    await invariants(t, keys, 'after the takeover');

    // Only the primary serves them: however long B waits, nothing becomes active.
    now += 2 * 3_600_000;
    await runHost(url, 'host-b.fleet.test', now, 'none', 'none').output;
    keys = await store.keys.list('race.test');
    t.deepEqual(keys.map((k) => k.state), ['published', 'published'], 'seen on one of two nameservers: not active');
    await invariants(t, keys, 'while the second server lags');

    // The second server catches up: seen everywhere, then active after TTL + margin (the runner's TTL: 60 s).
    await catchUp(store);
    await runHost(url, 'host-a.fleet.test', (now += 1000), 'none', 'none').output;
    keys = await store.keys.list('race.test');
    t.true(keys.every((k) => k.state === 'published' && k.seenEverywhereAt === now), 'marked seen');
    const done = await runHost(url, 'host-b.fleet.test', (now += 61_000), 'none', 'none').output;
    t.is(done.report?.error, undefined, done.lines.join('\n'));
    keys = await store.keys.list('race.test');
    t.deepEqual(keys.map((k) => k.state), ['active', 'active']);
    await invariants(t, keys, 'after activation');
    t.is(Number((await pg.psql(url.split('/').pop()!, 'SELECT count(*) FROM key_leases')).trim()), 0, 'every lease released or taken over and released');
  } finally {
    await store.close();
  }
});

