/**
 * Two MX hosts on one PostgreSQL: two `mailanchor milter --store postgresql://…` processes.
 * A key imported through one host's CLI signs on both; a rotation run on one host (its clock
 * injected, publishing to Knot by RFC 2136) is used by both within seconds; every signature
 * verifies with python3-dkim reading the keys from Knot. Then PostgreSQL is stopped and
 * started again while mail flows through both: no message tempfailed or rejected for it,
 * outbound mail still signed, every inbound evaluation written or counted as dropped, and the
 * milters reconnect by themselves.
 */
import test from 'ava';
import { existsSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import winston from 'winston';
import { run as keysCli } from '../../src/cli/keys.ts';
import { run as storeCli } from '../../src/cli/store.ts';
import { decodeConfig } from '../../src/config/load.ts';
import { createResolver } from '../../src/dns/resolver.ts';
import { parseTsigKey } from '../../src/dns/tsig.ts';
import { domainDefaults, type DomainKeysConfig } from '../../src/keys/config.ts';
import { dkimRecordForKey, splitTxt } from '../../src/keys/dkim-record.ts';
import { generateKey } from '../../src/keys/generate.ts';
import { rotateDomain } from '../../src/keys/rotate.ts';
import { MilterClient, sendMessage, type ClientModification } from '../../src/milter/mta-client.ts';
import { rfc2136Publisher } from '../../src/publish/publisher.ts';
import { openStore } from '../../src/store/open.ts';
import type { Store } from '../../src/store/store.ts';
import { captureIo } from '../support/cli-io.ts';
import { pythonDkimVerifyDns } from '../support/dkim-verifiers.ts';
import { knotMissing, startKnot, type KnotServer } from '../support/knot.ts';
import { startMilterProcess, type MilterProcess } from '../support/milter-process.ts';
import { freePort } from '../support/ports.ts';
import { postgresMissing, startPostgres, type PostgresServer } from '../support/postgres.ts';

const missing = postgresMissing() ?? knotMissing() ?? (existsSync('/usr/lib/python3/dist-packages/dkim') ? undefined : 'python3-dkim not installed');
const it = missing ? test.serial.skip : test.serial;
if (missing) test.skip(`two milters on one PostgreSQL: ${missing}`, () => {});

const DOMAIN = 'fleet.test';
const SENDER_IP = '192.0.2.10';
let dir = '';
let pg: PostgresServer;
let knot: KnotServer;
let url = '';
let store: Store;
const hosts: { milter: MilterProcess; metrics: number }[] = [];

test.before(async () => {
  if (missing) return;
  dir = await mkdtemp(join(tmpdir(), 'mailanchor-fleet-'));
  pg = await startPostgres();
  url = pg.url(await pg.createDatabase());
  knot = await startKnot({
    zones: [
      { name: 'test', records: '' },
      { name: DOMAIN },
      // The inbound side: a sender whose SPF passes for SENDER_IP and whose DMARC asks for reports.
      { name: 'sender.test', records: [`@ IN TXT "v=spf1 ip4:${SENDER_IP} -all"`, '_dmarc IN TXT "v=DMARC1; p=none; rua=mailto:dmarc@sender.test"'].join('\n') },
      { name: '2.0.192.in-addr.arpa', records: '10 IN PTR mail.sender.test.' },
    ],
  });
  const io = captureIo(dir);
  if ((await storeCli(['migrate', '--store', url], io)) !== 0) throw new Error(io.err());
  store = await openStore(decodeConfig({}).config.store, { override: url });
});
test.after.always(async () => {
  for (const h of hosts) await h.milter.stop();
  await store?.close();
  await knot?.stop();
  await pg?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function startHost(name: string): Promise<void> {
  const metrics = await freePort();
  const cfg = join(dir, `${name}.yml`);
  writeFileSync(
    cfg,
    [
      'dns:',
      `  servers: ["${knot.server.host}:${knot.server.port}"]`,
      '  timeout: 500ms',
      'inbound:',
      '  authserv_id: mx.fleet.test',
      `metrics:\n  listen: 127.0.0.1:${metrics}`,
      'store:',
      '  key_refresh: 500ms',
      '  evaluation_flush: 50ms',
      '  evaluation_queue: 8',
      '  evaluation_batch: 4',
      '',
    ].join('\n'),
  );
  hosts.push({ milter: await startMilterProcess(['--config', cfg, '--store', url]), metrics });
}

/** One outbound message from a trusted client (loopback) through `host`; the DKIM-Signature values it adds. */
async function sendOutbound(host: MilterProcess, n: number): Promise<{ reply: string; signed: Buffer; selectors: string[] }> {
  const headers: Array<[string, string]> = [
    ['From', ` Alice <alice@${DOMAIN}>`],
    ['To', ' bob@example.net'],
    ['Subject', ` fleet ${n}`],
    ['Date', ' Tue, 01 Dec 2026 10:00:00 +0000'],
    ['Message-ID', ` <${n}.${Math.random().toString(36).slice(2)}@${DOMAIN}>`],
  ];
  const body = `Message ${n} from the fleet.\r\n`;
  const c = await MilterClient.connect(`inet:127.0.0.1:${host.port}`);
  try {
    await c.negotiate();
    const r = await sendMessage(c, { client: { hostname: 'localhost', address: '127.0.0.1' }, from: `alice@${DOMAIN}`, rcpts: ['bob@example.net'], headers, body });
    const sigs = (r.eom?.modifications ?? []).filter((m): m is Extract<ClientModification, { kind: 'insert-header' }> => m.kind === 'insert-header' && m.name === 'DKIM-Signature');
    const head = [...sigs.map((s) => `DKIM-Signature:${s.value.startsWith(' ') ? '' : ' '}${s.value.replace(/\r?\n/g, '\r\n')}`), ...headers.map(([k, v]) => `${k}:${v}`)].join('\r\n');
    return { reply: r.eom?.reply.kind ?? r.stopped?.kind ?? 'none', signed: Buffer.from(`${head}\r\n\r\n${body}`, 'latin1'), selectors: sigs.map((s) => /\bs=([^;\s]+)/.exec(s.value)?.[1] ?? '?') };
  } finally {
    c.quit();
  }
}

/** One inbound message from the internet (SPF pass, DMARC p=none with rua): evaluated and recorded. */
async function sendInbound(host: MilterProcess, n: number): Promise<string> {
  const c = await MilterClient.connect(`inet:127.0.0.1:${host.port}`);
  try {
    await c.negotiate();
    const r = await sendMessage(c, {
      client: { hostname: 'mail.sender.test', address: SENDER_IP },
      helo: 'mail.sender.test',
      from: 'carol@sender.test',
      rcpts: ['bob@fleet.test'],
      headers: [['From', ' Carol <carol@sender.test>'], ['To', ' bob@fleet.test'], ['Subject', ` in ${n}`], ['Message-ID', ` <in${n}@sender.test>`]],
      body: 'Hello.\r\n',
    });
    return r.eom?.reply.kind ?? r.stopped?.kind ?? 'none';
  } finally {
    c.quit();
  }
}

async function scrape(port: number): Promise<Map<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^(mailanchor_[a-z_]+(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (m) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, ms = 8000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

it('a key imported through one host signs on both; a rotation run on one host is used by both within seconds; python3-dkim verifies every signature against Knot', async (t) => {
  // Host A's operator imports the key the domain already publishes (OpenDKIM migration).
  const imported = generateKey('rsa-sha256');
  const keyFile = join(dir, 'imp.private');
  writeFileSync(keyFile, imported.privateKeyPem, { mode: 0o600 });
  await knot.setRecords(DOMAIN, [{ name: 'imp1._domainkey', type: 'TXT', ttl: 1, data: splitTxt(dkimRecordForKey('rsa-sha256', imported.publicKeyPem)).map((s) => `"${s}"`).join(' ') }]);
  const io = captureIo(dir);
  // The import checks the record on the domain's authoritative server before the key is active.
  t.is(await keysCli(['import', '--domain', DOMAIN, '--selector', 'imp1', '--key', keyFile, '--store', url, '--dns', knot.address, '--nameserver', knot.address], io), 0, io.err());
  t.regex(io.out(), /as active/);

  await startHost('a');
  await startHost('b');
  for (const [i, h] of hosts.entries()) {
    const r = await sendOutbound(h.milter, i);
    t.is(r.reply, 'continue');
    t.deepEqual(r.selectors, ['imp1'], `host ${i} signs with the imported key`);
    t.deepEqual(await pythonDkimVerifyDns(r.signed, knot.server), [true]);
  }

  // Host A rotates (its clock injected so TTL waits take no real time).
  let now = Date.now();
  const cfg: DomainKeysConfig = { ...domainDefaults(), algorithms: ['rsa-sha256'], ttl: 1000, ttl_margin: 0, nameservers: [knot.server] };
  const deps = { store: store.keys, lease: store.lease, dns: createResolver({ servers: [knot.server] }), now: () => now, logger: winston.createLogger({ silent: true }), publisherFor: () => rfc2136Publisher(knot.server, parseTsigKey(knot.tsig.spec)), observeTimeoutMs: 1000 };
  let r = await rotateDomain(DOMAIN, cfg, deps, { rotateNow: true });
  t.is(r.error, undefined);
  const fresh = (await store.keys.list(DOMAIN)).find((k) => k.selector !== 'imp1')!;
  t.is(fresh.state, 'published');
  now += 1000;
  await rotateDomain(DOMAIN, cfg, deps); // seen on the nameserver
  for (const h of hosts) t.deepEqual((await sendOutbound(h.milter, 9)).selectors, ['imp1'], 'published, not active yet: still the old key');
  now += 2001;
  r = await rotateDomain(DOMAIN, cfg, deps);
  t.deepEqual(Object.fromEntries((await store.keys.list(DOMAIN)).map((k) => [k.selector, k.state])), { imp1: 'retired', [fresh.selector]: 'active' });

  const activated = Date.now();
  for (const [i, h] of hosts.entries()) {
    const seen = await waitFor(`host ${i} to sign with ${fresh.selector}`, async () => {
      const s = await sendOutbound(h.milter, 100 + i);
      return s.selectors[0] === fresh.selector ? s : undefined;
    });
    t.deepEqual(await pythonDkimVerifyDns(seen.signed, knot.server), [true], `host ${i}: the rotated key verifies`);
  }
  const took = Date.now() - activated;
  t.log(`both hosts signed with the rotated key ${took} ms after the commit (key_refresh 500 ms)`);
  t.true(took < 5000);
});

it('PostgreSQL stopped and started again while mail flows through both hosts: nothing tempfailed or rejected, outbound still signed, evaluations written or counted, reconnection by itself', async (t) => {
  const active = (await store.keys.listActive()).map((k) => k.selector);
  const replies: string[] = [];
  const unsigned: number[] = [];
  let inbound = 0;
  const before = await Promise.all(hosts.map((h) => scrape(h.metrics)));
  const recordedBefore = before.reduce((n, m) => n + (m.get('mailanchor_evaluations_recorded_total') ?? 0), 0);
  const droppedBefore = before.reduce((n, m) => n + (m.get('mailanchor_evaluations_dropped_total{reason="queue_full"}') ?? 0), 0);
  let outage: { from: number; to: number } | undefined;
  const flow = (async () => {
    for (let n = 0; n < 60; n++) {
      const h = hosts[n % 2]!.milter;
      if (n % 3 === 0) {
        const s = await sendOutbound(h, 1000 + n);
        replies.push(s.reply);
        if (!active.includes(s.selectors[0] ?? '')) unsigned.push(n);
      } else {
        replies.push(await sendInbound(h, n));
        inbound++;
      }
      await new Promise((r) => setTimeout(r, 40));
    }
  })();
  await new Promise((r) => setTimeout(r, 600));
  const from = Date.now();
  await pg.pause();
  await new Promise((r) => setTimeout(r, 1500));
  await pg.resume();
  outage = { from, to: Date.now() };
  await flow;
  t.log(`PostgreSQL down ${outage.to - outage.from} ms while ${replies.length} messages flowed`);
  t.deepEqual([...new Set(replies)], ['continue'], 'no message tempfailed or rejected because of the store');
  t.deepEqual(unsigned, [], 'outbound mail signed with the active key throughout');

  // The writers retry with backoff; once they are back, every inbound evaluation is accounted for.
  const settled = await waitFor('the evaluation writers to drain', async () => {
    const ms = await Promise.all(hosts.map((h) => scrape(h.metrics)));
    const queued = ms.reduce((n, m) => n + (m.get('mailanchor_evaluations_queued') ?? 0), 0);
    const up = ms.every((m) => m.get('mailanchor_store_up{operation="evaluations_write"}') === 1);
    return queued === 0 && up ? ms : undefined;
  }, 20_000);
  const recorded = settled.reduce((n, m) => n + (m.get('mailanchor_evaluations_recorded_total') ?? 0), 0) - recordedBefore;
  const dropped = settled.reduce((n, m) => n + (m.get('mailanchor_evaluations_dropped_total{reason="queue_full"}') ?? 0), 0) - droppedBefore;
  const errors = settled.reduce((n, m) => n + (m.get('mailanchor_store_errors_total{operation="evaluations_write"}') ?? 0), 0);
  t.log(`inbound ${inbound}: recorded ${recorded}, dropped (queue of 8 full) ${dropped}; failed batches counted ${errors}`);
  t.is(recorded + dropped, inbound, 'each evaluation written or counted as dropped');
  t.true(errors > 0, 'the outage is counted');
  const inDb = Number((await pg.psql(url.split('/').pop()!, "SELECT count(*) FROM dmarc_evaluations WHERE policy_domain = 'sender.test'")).trim());
  t.is(inDb, recorded, 'what the writers counted as written is in the database');
  const logs = hosts.map((h) => h.milter.output()).join('\n');
  t.regex(logs, /DMARC evaluations not written; keeping them queued and retrying/);
  t.regex(logs, /DMARC evaluations written again/);
  t.regex(logs, /keystore unreadable; signing with the last keys read/);
  t.regex(logs, /keystore readable again/);
  t.false(logs.includes(pg.password), 'the store password is in no log line');
  for (const h of hosts) t.is(h.milter.child.exitCode, null, 'still running: no restart needed');
});
