/**
 * The metrics an operator graphs, read from the real `/metrics` endpoint of a running
 * `mailanchor milter` (the CLI as a child process) that resolves through a validating Unbound
 * in front of Knot: DMARC results and dispositions per policy domain with bounded labels,
 * signatures per domain/selector/algorithm, key states, ages and next steps from the store,
 * TLSA match state per site, DNS latency and results by RCODE — and the DNS counters still
 * counting up after a SIGHUP that rebuilds the resolver. The Grafana dashboard and the list in
 * docs/milter.md use exactly the names this endpoint exports.
 */
import test from 'ava';
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { startRuntime } from '../../src/app/runtime.ts';
import { readTlsaSource } from '../../src/dane/cert-input.ts';
import { computeRecords } from '../../src/dane/tlsa-compute.ts';
import { tlsaText } from '../../src/dane/tlsa-params.ts';
import { generateKey } from '../../src/keys/generate.ts';
import { MilterClient, sendMessage } from '../../src/milter/mta-client.ts';
import type { Store } from '../../src/store/store.ts';
import { makePki, type TestPki } from '../dane/make-certs.ts';
import { knotMissing, startKnot, type KnotServer } from '../support/knot.ts';
import { startMilterProcess, type MilterProcess } from '../support/milter-process.ts';
import { freePort } from '../support/ports.ts';
import { openTestStore } from '../support/store.ts';
import { startUnbound, unboundMissing, type UnboundServer } from '../support/unbound.ts';

const missing = knotMissing() ?? unboundMissing();
const it = missing ? test.serial.skip : test.serial;
if (missing) test.skip(`operator metrics: ${missing}`, () => {});

const DAY = 86_400_000;
const SENDER_IP = '192.0.2.10';
let dir = '';
let knot: KnotServer;
let unbound: UnboundServer;
let pki: TestPki;
let milter: MilterProcess;
let metricsPort = 0;
let cfgFile = '';
let store: Store;
const selectors: Record<string, string> = {};

function config(dnsTimeout: string): string {
  return [
    'dns:',
    `  servers: ["${unbound.address}"]`,
    `  timeout: ${dnsTimeout}`,
    '  attempts: 1',
    'inbound:',
    '  authserv_id: mx.ours.test',
    '  iprev: false',
    'metrics:',
    `  listen: 127.0.0.1:${metricsPort}`,
    '  domains: [strict.test]',
    '  top_domains: 1',
    'store:',
    `  path: ${join(dir, 'store.db')}`,
    'keys:',
    '  domains:',
    '    ours.test:',
    '      lifetime: 30d',
    'dane:',
    '  interval: 1s',
    '  timeout: 1s',
    '  sites:',
    `    - { host: mx.ours.test, cert_files: [${join(pki.dir, 'mx-chain.pem')}] }`,
    `    - { host: mx2.ours.test, cert_files: [${join(pki.dir, 'mx2-chain.pem')}] }`,
    `    - { host: mx3.ours.test, cert_files: [${join(pki.dir, 'mx3-chain.pem')}] }`,
    '',
  ].join('\n');
}

test.before(async () => {
  if (missing) return;
  dir = await mkdtemp(join(tmpdir(), 'mailanchor-opmetrics-'));
  pki = makePki();
  pki.leaf('mx', 'mx.ours.test', 'ec');
  pki.leaf('mx2', 'mx2.ours.test', 'ec');
  pki.leaf('mx3', 'mx3.ours.test', 'ec');
  const src = await readTlsaSource(join(pki.dir, 'mx-chain.pem'), { now: Date.now() });
  const tlsa = computeRecords(src, {}).records.map((r) => `_25._tcp.mx IN TLSA ${tlsaText(r)}`);
  knot = await startKnot({
    zones: [
      { name: 'ours.test', dnssec: true, records: [...tlsa, `_25._tcp.mx2 IN TLSA 3 1 1 ${'ab'.repeat(32)}`, 'mx A 127.0.0.1', 'mx2 A 127.0.0.1', 'mx3 A 127.0.0.1'].join('\n') },
      { name: 'sender.test', records: [`@ IN TXT "v=spf1 ip4:${SENDER_IP} -all"`, '_dmarc IN TXT "v=DMARC1; p=none; rua=mailto:dmarc@sender.test"'].join('\n') },
      { name: 'strict.test', records: ['@ IN TXT "v=spf1 -all"', '_dmarc IN TXT "v=DMARC1; p=reject"'].join('\n') },
      { name: 'other1.test', records: `@ IN TXT "v=spf1 ip4:${SENDER_IP} -all"` },
      { name: 'other2.test', records: `@ IN TXT "v=spf1 ip4:${SENDER_IP} -all"` },
    ],
  });
  unbound = await startUnbound({
    stubs: [
      { zone: 'ours.test', servers: [knot.server], trustAnchors: await knot.ds('ours.test') },
      ...['sender.test', 'strict.test', 'other1.test', 'other2.test'].map((zone) => ({ zone, servers: [knot.server] })),
    ],
  });
  metricsPort = await freePort();
  store = await openTestStore(join(dir, 'store.db'));
  // ours.test: active RSA and Ed25519 keys made 10 days ago, and an RSA key retired 2 days ago;
  // imported.test: an active key no keys.domains entry rotates.
  const put = async (domain: string, algorithm: 'rsa-sha256' | 'ed25519-sha256', state: 'active' | 'retired', age: number) => {
    const g = generateKey(algorithm);
    const selector = `s${algorithm[0]}${state[0]}${Math.round(age / DAY)}`;
    await store.keys.insert({ id: randomUUID(), domain, selector, algorithm, state, createdAt: Date.now() - age, privateKeyPem: g.privateKeyPem, publicKeyPem: g.publicKeyPem });
    selectors[`${domain}/${algorithm}/${state}`] = selector;
  };
  await put('ours.test', 'rsa-sha256', 'active', 10 * DAY);
  await put('ours.test', 'ed25519-sha256', 'active', 10 * DAY);
  await put('ours.test', 'rsa-sha256', 'retired', 2 * DAY);
  await put('imported.test', 'rsa-sha256', 'active', 1 * DAY);
  cfgFile = join(dir, 'mailanchor.yml');
  writeFileSync(cfgFile, config('800ms'));
  milter = await startMilterProcess(['--config', cfgFile]);
});
test.after.always(async () => {
  await milter?.stop();
  await store?.close();
  await unbound?.stop();
  await knot?.stop();
  pki?.cleanup();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function inbound(fromDomain: string): Promise<string> {
  const c = await MilterClient.connect(`inet:127.0.0.1:${milter.port}`);
  try {
    await c.negotiate();
    const r = await sendMessage(c, {
      client: { hostname: 'mail.sender.test', address: SENDER_IP },
      helo: 'mail.sender.test',
      from: `carol@${fromDomain}`,
      rcpts: ['bob@ours.test'],
      headers: [['From', ` Carol <carol@${fromDomain}>`], ['To', ' bob@ours.test'], ['Subject', ' hello'], ['Message-ID', ` <${randomUUID()}@${fromDomain}>`]],
      body: 'Hello.\r\n',
    });
    return r.eom?.reply.kind ?? r.stopped?.kind ?? 'none';
  } finally {
    c.quit();
  }
}

async function outbound(): Promise<number> {
  const c = await MilterClient.connect(`inet:127.0.0.1:${milter.port}`);
  try {
    await c.negotiate();
    const r = await sendMessage(c, {
      client: { hostname: 'localhost', address: '127.0.0.1' },
      from: 'alice@ours.test',
      rcpts: ['bob@example.net'],
      headers: [['From', ' Alice <alice@ours.test>'], ['To', ' bob@example.net'], ['Subject', ' out'], ['Date', ' Tue, 01 Dec 2026 10:00:00 +0000']],
      body: 'Out.\r\n',
    });
    return (r.eom?.modifications ?? []).filter((m) => m.kind === 'insert-header' && m.name === 'DKIM-Signature').length;
  } finally {
    c.quit();
  }
}

interface Scrape {
  readonly text: string;
  /** `name{labels}` → value, labels as exported. */
  readonly samples: Map<string, number>;
  /** Metric families by `# TYPE`. */
  readonly types: Map<string, string>;
  value(name: string, labels?: Record<string, string>): number | undefined;
}

async function scrape(): Promise<Scrape> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const samples = new Map<string, number>();
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)/.exec(line);
    if (type) types.set(type[1]!, type[2]!);
    const m = /^([a-z_:][a-z0-9_:]*(?:\{[^}]*\})?) (\S+)$/i.exec(line);
    if (m) samples.set(m[1]!, Number(m[2]));
  }
  return {
    text,
    samples,
    types,
    value(name, labels) {
      for (const [k, v] of samples) {
        const [n, l = ''] = k.split(/\{|\}/);
        if (n !== name) continue;
        const got = Object.fromEntries([...l.matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
        if (Object.entries(labels ?? {}).every(([a, b]) => got[a] === b) && Object.keys(got).length === Object.keys(labels ?? {}).length) return v;
      }
      return undefined;
    },
  };
}

const sum = (s: Scrape, name: string, filter: (labels: string) => boolean = () => true): number =>
  [...s.samples].filter(([k]) => k.split('{')[0] === name && filter(k)).reduce((a, [, v]) => a + v, 0);

async function until<T>(f: () => Promise<T | undefined>, what: string): Promise<T> {
  for (let i = 0; i < 100; i++) {
    const v = await f();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

it('DMARC results and dispositions per policy domain: configured, top N, other', async (t) => {
  for (let i = 0; i < 3; i++) t.is(await inbound('sender.test'), 'continue');
  t.is(await inbound('strict.test'), 'replycode', '550 5.7.1: p=reject');
  t.is(await inbound('other1.test'), 'continue');
  t.is(await inbound('other2.test'), 'continue');
  t.is(await inbound('elsewhere.example'), 'replycode', 'Unbound refuses a zone it does not serve: DMARC temperror, 451');
  const s = await scrape();
  t.is(s.value('mailanchor_dmarc_messages_total', { policy_domain: 'sender.test', result: 'pass', disposition: 'deliver' }), 3, 'the busiest domain has its own label');
  t.is(s.value('mailanchor_dmarc_messages_total', { policy_domain: 'strict.test', result: 'fail', disposition: 'reject' }), 1, 'a configured domain has its own label');
  t.is(s.value('mailanchor_dmarc_messages_total', { policy_domain: 'other', result: 'none', disposition: 'deliver' }), 2, 'top_domains: 1 — the rest is other');
  t.is(s.value('mailanchor_dmarc_messages_total', { policy_domain: 'other', result: 'temperror', disposition: 'tempfail' }), 1);
  t.false(/policy_domain="other1\.test"/.test(s.text));
  // Evaluations not recorded are the store's counter, reused.
  t.not(s.value('mailanchor_evaluations_dropped_total', { reason: 'queue_full' }), undefined);
});

it('DNS: latency histogram and results by RCODE on the wire, lookups failed by code', async (t) => {
  const s = await scrape();
  t.is(s.types.get('mailanchor_dns_query_duration_seconds'), 'histogram');
  t.true((s.value('mailanchor_dns_query_duration_seconds_count', { protocol: 'udp' }) ?? 0) > 5);
  t.true((s.value('mailanchor_dns_query_results_total', { rcode: 'NOERROR' }) ?? 0) > 0);
  t.true((s.value('mailanchor_dns_query_results_total', { rcode: 'NXDOMAIN' }) ?? 0) > 0, 'no _dmarc record at other1.test');
  t.true((s.value('mailanchor_dns_query_results_total', { rcode: 'REFUSED' }) ?? 0) > 0);
  t.true((s.value('mailanchor_dns_failures_total', { code: 'REFUSED' }) ?? 0) > 0);
  t.is(sum(s, 'mailanchor_dns_query_results_total'), s.value('mailanchor_dns_query_duration_seconds_count', { protocol: 'udp' })! + (s.value('mailanchor_dns_query_duration_seconds_count', { protocol: 'tcp' }) ?? 0), 'every exchange timed and counted once');
});

it('signatures per domain, selector and algorithm', async (t) => {
  t.is(await outbound(), 2, 'RSA and Ed25519');
  t.is(await outbound(), 2);
  const s = await scrape();
  t.is(s.value('mailanchor_dkim_signatures_total', { domain: 'ours.test', selector: selectors['ours.test/rsa-sha256/active']!, algorithm: 'rsa-sha256' }), 2);
  t.is(s.value('mailanchor_dkim_signatures_total', { domain: 'ours.test', selector: selectors['ours.test/ed25519-sha256/active']!, algorithm: 'ed25519-sha256' }), 2);
});

it('key state and age per domain, seconds to the next rotation step, domains nothing rotates', async (t) => {
  const s = await scrape();
  t.is(s.value('mailanchor_dkim_keys', { domain: 'ours.test', algorithm: 'rsa-sha256', state: 'active' }), 1);
  t.is(s.value('mailanchor_dkim_keys', { domain: 'ours.test', algorithm: 'rsa-sha256', state: 'retired' }), 1);
  t.is(s.value('mailanchor_dkim_keys', { domain: 'ours.test', algorithm: 'ed25519-sha256', state: 'active' }), 1);
  const age = s.value('mailanchor_dkim_active_key_age_seconds', { domain: 'ours.test', algorithm: 'ed25519-sha256' })!;
  t.true(Math.abs(age - 10 * 86_400) < 120, String(age));
  // ed25519: rotation due at 30 d lifetime → ~20 days; rsa: the retired key is revoked at 7 d → ~5 days.
  const ed = s.value('mailanchor_dkim_next_step_seconds', { domain: 'ours.test', algorithm: 'ed25519-sha256', step: 'rotate' })!;
  t.true(Math.abs(ed - 20 * 86_400) < 120, String(ed));
  const rsa = s.value('mailanchor_dkim_next_step_seconds', { domain: 'ours.test', algorithm: 'rsa-sha256', step: 'revoke' })!;
  t.true(Math.abs(rsa - 5 * 86_400) < 120, String(rsa));
  t.is(s.value('mailanchor_dkim_rotation_configured', { domain: 'ours.test' }), 1);
  t.is(s.value('mailanchor_dkim_rotation_configured', { domain: 'imported.test' }), 0);
  // A change in the store shows at the next scrape (the key generation moved).
  await store.keys.apply([{ id: (await store.keys.list('imported.test'))[0]!.id, state: 'retired' }], Date.now());
  const after = await scrape();
  t.is(after.value('mailanchor_dkim_keys', { domain: 'imported.test', algorithm: 'rsa-sha256', state: 'retired' }), 1);
  t.is(after.value('mailanchor_dkim_keys', { domain: 'imported.test', algorithm: 'rsa-sha256', state: 'active' }), undefined);
});

it('TLSA match state per site, validated through Unbound', async (t) => {
  const s = await until(async () => {
    const x = await scrape();
    return x.value('mailanchor_dane_tlsa_state', { site: '_25._tcp.mx3.ours.test', state: 'missing' }) !== undefined ? x : undefined;
  }, 'the first TLSA check');
  t.is(s.value('mailanchor_dane_tlsa_state', { site: '_25._tcp.mx.ours.test', state: 'match' }), 1);
  t.is(s.value('mailanchor_dane_tlsa_state', { site: '_25._tcp.mx.ours.test', state: 'mismatch' }), 0);
  t.is(s.value('mailanchor_dane_tlsa_state', { site: '_25._tcp.mx2.ours.test', state: 'mismatch' }), 1, 'a record for another key');
  t.is(s.value('mailanchor_dane_tlsa_state', { site: '_25._tcp.mx3.ours.test', state: 'missing' }), 1);
  t.is(s.value('mailanchor_dane_tlsa_authenticated', { site: '_25._tcp.mx.ours.test' }), 1, 'Unbound validated the signed zone');
  t.regex(milter.output(), /TLSA match state.*_25\._tcp\.mx2\.ours\.test.*mismatch/, 'a site that does not match is logged at the first check');
  // The record for mx2's certificate is published: the next round says match.
  const mx2 = await readTlsaSource(join(pki.dir, 'mx2-chain.pem'), { now: Date.now() });
  await knot.setRecords('ours.test', computeRecords(mx2, {}).records.map((r) => ({ name: '_25._tcp.mx2', type: 'TLSA', data: tlsaText(r) })));
  await until(async () => ((await scrape()).value('mailanchor_dane_tlsa_state', { site: '_25._tcp.mx2.ours.test', state: 'match' }) === 1 ? true : undefined), 'mx2 to match');
  t.pass();
});

it('DNS counters survive a SIGHUP that builds a new resolver (the real process)', async (t) => {
  const before = await scrape();
  const sent = before.value('mailanchor_dns_queries_sent_total')!;
  const timed = before.value('mailanchor_dns_query_duration_seconds_count', { protocol: 'udp' })!;
  const misses = before.value('mailanchor_dns_cache_misses_total')!;
  t.true(sent > 0);
  // New DNS settings: a new resolver for new connections; every counter goes on from where it was.
  writeFileSync(cfgFile, config('900ms'));
  const reloads = (milter.output().match(/config reloaded/g) ?? []).length;
  milter.child.kill('SIGHUP');
  await until(async () => ((milter.output().match(/config reloaded/g) ?? []).length > reloads ? true : undefined), 'the reload');
  const right = await scrape();
  t.log({ sent, misses, sentAfterReload: right.value('mailanchor_dns_queries_sent_total'), cacheEntriesAfterReload: right.value('mailanchor_dns_cache_entries') });
  t.true(right.value('mailanchor_dns_queries_sent_total')! >= sent, 'not reset by the reload');
  t.true(right.value('mailanchor_dns_cache_misses_total')! >= misses);
  t.true(right.value('mailanchor_dns_query_duration_seconds_count', { protocol: 'udp' })! >= timed);
  t.is(await inbound('other2.test'), 'continue');
  const after = await scrape();
  t.true(after.value('mailanchor_dns_queries_sent_total')! > sent, 'and counting on');
  t.true(after.value('mailanchor_dns_query_duration_seconds_count', { protocol: 'udp' })! > timed);
  t.true(after.value('mailanchor_dns_cache_misses_total')! > misses);
});

it('reload in process: an unchanged dns section keeps the resolver and its cache; a changed one starts a new cache, counters kept', async (t) => {
  const file = join(dir, 'inproc.yml');
  const yml = (timeout: string) => `dns:\n  servers: ["${knot.server.host}:${knot.server.port}"]\n  timeout: ${timeout}\n  cache_min_ttl: 1h\nstore:\n  path: ${join(dir, 'inproc.db')}\ninbound:\n  iprev: false\n  record_evaluations: false\n`;
  writeFileSync(file, yml('700ms'));
  const logs = new PassThrough();
  logs.resume();
  const rt = await startRuntime({ configPath: file, listen: [{ kind: 'tcp', host: '127.0.0.1', port: 0 }], logStream: logs });
  try {
    const value = async (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(await rt.metrics.metrics())?.[1]);
    const c = await MilterClient.connect(rt.server.addresses[0]!);
    await c.negotiate();
    await sendMessage(c, { client: { hostname: 'mail.sender.test', address: SENDER_IP }, from: 'carol@sender.test', rcpts: ['bob@ours.test'], headers: [['From', ' <carol@sender.test>']], body: 'x\r\n' });
    c.quit();
    const entries = await value('mailanchor_dns_cache_entries');
    const sent = await value('mailanchor_dns_queries_sent_total');
    t.true(entries > 0 && sent > 0);
    t.true(await rt.reload());
    t.is(await value('mailanchor_dns_cache_entries'), entries, 'same settings: the same resolver, cache kept');
    writeFileSync(file, yml('800ms'));
    t.true(await rt.reload());
    t.is(await value('mailanchor_dns_cache_entries'), 0, 'new settings: a new resolver with an empty cache');
    t.is(await value('mailanchor_dns_queries_sent_total'), sent, 'its counters start from the old ones');
  } finally {
    await rt.stop();
  }
});

it('a cluster of two workers: mail counters are summed over the workers, key and TLSA state is reported once', async (t) => {
  const port = await freePort();
  const file = join(dir, 'cluster.yml');
  writeFileSync(file, config('800ms').replace(`listen: 127.0.0.1:${metricsPort}`, `listen: 127.0.0.1:${port}`));
  const cluster = await startMilterProcess(['--config', file, '--workers', '2']);
  try {
    const get = async () => {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      return (name: string) => Number(new RegExp(`^${name.replace(/[{}"]/g, (c) => `\\${c}`)} (\\S+)$`, 'm').exec(text)?.[1]);
    };
    const send = async () => {
      const c = await MilterClient.connect(`inet:127.0.0.1:${cluster.port}`);
      await c.negotiate();
      await sendMessage(c, { client: { hostname: 'mail.sender.test', address: SENDER_IP }, helo: 'mail.sender.test', from: 'carol@sender.test', rcpts: ['bob@ours.test'], headers: [['From', ' <carol@sender.test>'], ['Subject', ' x']], body: 'x\r\n' });
      c.quit();
    };
    await Promise.all(Array.from({ length: 8 }, send));
    const m = await until(async () => {
      const v = await get();
      return v('mailanchor_dane_tlsa_state{site="_25._tcp.mx.ours.test",state="match"}') >= 0 ? v : undefined;
    }, 'the cluster\'s first TLSA check');
    t.is(m('mailanchor_dmarc_messages_total{policy_domain="sender.test",result="pass",disposition="deliver"}'), 8, 'summed over both workers');
    t.is(m('mailanchor_milter_sessions_total'), 8);
    t.is(m('mailanchor_dkim_keys{domain="ours.test",algorithm="ed25519-sha256",state="active"}'), 1, 'one process reports the keystore, not one per worker');
    t.is(m('mailanchor_dane_tlsa_state{site="_25._tcp.mx.ours.test",state="match"}'), 1);
  } finally {
    await cluster.stop();
  }
});

/** Families we export, with the sample names a query can use (histograms: _bucket/_sum/_count). */
function exportedNames(s: Scrape): Set<string> {
  const out = new Set<string>();
  for (const [name, type] of s.types) {
    out.add(name);
    if (type === 'histogram') for (const x of ['_bucket', '_sum', '_count']) out.add(`${name}${x}`);
  }
  return out;
}

it('the Grafana dashboard queries only metric names the endpoint exports, and uses every operator metric', async (t) => {
  const exported = exportedNames(await scrape());
  const dashboard = JSON.parse(readFileSync(new URL('../../contrib/grafana/mailanchor.json', import.meta.url), 'utf8')) as { panels: { title: string; targets?: { expr: string }[] }[] };
  const used = new Set<string>();
  for (const p of dashboard.panels) for (const target of p.targets ?? []) for (const m of target.expr.matchAll(/\bmailanchor_[a-z0-9_]+/g)) used.add(m[0]);
  t.true(used.size > 10);
  t.deepEqual([...used].filter((n) => !exported.has(n)).sort(), [], 'queried but not exported');
  const operator = ['mailanchor_dmarc_messages_total', 'mailanchor_dkim_signatures_total', 'mailanchor_dkim_keys', 'mailanchor_dkim_active_key_age_seconds', 'mailanchor_dkim_next_step_seconds', 'mailanchor_dane_tlsa_state', 'mailanchor_evaluations_dropped_total', 'mailanchor_dns_query_duration_seconds_bucket', 'mailanchor_dns_failures_total', 'mailanchor_dns_query_results_total'];
  t.deepEqual(operator.filter((n) => !used.has(n)), [], 'an operator metric without a panel');
});

it('docs/milter.md lists exactly the mailanchor_ metrics the endpoint exports (process metrics aside)', async (t) => {
  const s = await scrape();
  // Node's default metrics (collectDefaultMetrics) are documented as a group, not one by one.
  const defaults = new Registry();
  collectDefaultMetrics({ register: defaults, prefix: 'mailanchor_' });
  const nodeDefaults = new Set((await defaults.getMetricsAsJSON()).map((m) => m.name));
  const families = [...s.types.keys()].filter((n) => n.startsWith('mailanchor_') && !nodeDefaults.has(n)).sort();
  const doc = readFileSync(new URL('../../docs/milter.md', import.meta.url), 'utf8');
  const section = doc.slice(doc.indexOf('## Metrics'), doc.indexOf('\n## ', doc.indexOf('## Metrics') + 1));
  const listed = [...new Set([...section.matchAll(/`(mailanchor_[a-z0-9_]+)/g)].map((m) => m[1]!))].filter((n) => !n.endsWith('_') && !nodeDefaults.has(n)).sort();
  t.deepEqual(listed, families);
});
