/**
 * The inbound filter (our authentication engine) behind our milter server, with a real Knot DNS on
 * loopback serving SPF, DKIM, DMARC and PTR records; messages signed by python3-dkim's
 * dkimsign (an independent signer). Driven by our MTA-side client like Postfix drives it.
 */
import test from 'ava';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { decodeConfig } from '../../src/config/load.ts';
import { createResolver, type Resolver } from '../../src/dns/resolver.ts';
import { createInboundFilterFactory } from '../../src/inbound/filter.ts';
import type { SigningKeySource } from '../../src/keys/signing-keys.ts';
import { MilterClient, sendMessage, type ClientModification, type SimpleMessage } from '../../src/milter/mta-client.ts';
import { startMilterServer, type MilterServer } from '../../src/milter/server.ts';
import { createEvaluationWriter, type EvaluationWriter } from '../../src/store/evaluation-writer.ts';
import type { Store } from '../../src/store/store.ts';
import { openTestStore } from '../support/store.ts';
import { knotMissing, startKnot, type KnotServer } from '../support/knot.ts';
import { captureLogger } from '../support/logger.ts';
import { splitMessage } from '../support/raw-message.ts';
import { dkimsign, makeKey, type TestKey } from './dkim-keys.ts';

const missing = knotMissing() ?? (existsSync('/usr/bin/dkimsign') ? undefined : 'python3-dkim (dkimsign) not installed');
const it = missing ? test.serial.skip : test.serial;
if (missing) test.skip(`inbound with Knot: ${missing}`, () => {});

const ID = 'mx.anchor.test';
const GOOD_IP = '192.0.2.10';
let dir = '';
let knot: KnotServer;
let resolver: Resolver;
let server: MilterServer;
let store: Store;
let writer: EvaluationWriter;
let keys: { rsa: TestKey; ed: TestKey; weak: TestKey };
const { logger, lines } = captureLogger();
const noKeys: SigningKeySource = { activeKeys: () => [], assertHealthy: () => undefined };

test.before(async () => {
  if (missing) return;
  dir = await mkdtemp(join(tmpdir(), 'mailanchor-inbound-'));
  keys = { rsa: makeKey(dir, 'rsa2026', 'rsa-sha256'), ed: makeKey(dir, 'ed2026', 'ed25519-sha256'), weak: makeKey(dir, 'weak', 'rsa-sha256', 768) };
  knot = await startKnot({
    zones: [
      // The parent, so DMARC's tree walk gets NXDOMAIN above the test domains (not REFUSED).
      { name: 'test', records: '' },
      {
        name: 'sender.test',
        records: [
          `@ IN TXT "v=spf1 ip4:${GOOD_IP} -all"`,
          `_dmarc IN TXT "v=DMARC1; p=reject; rua=mailto:dmarc@sender.test"`,
          `rsa2026._domainkey IN TXT ${keys.rsa.zoneTxt}`,
          `ed2026._domainkey IN TXT ${keys.ed.zoneTxt}`,
          `weak._domainkey IN TXT ${keys.weak.zoneTxt}`,
          `mail IN A ${GOOD_IP}`,
        ].join('\n'),
      },
      { name: 'quarantine.test', records: ['@ IN TXT "v=spf1 -all"', '_dmarc IN TXT "v=DMARC1; p=quarantine"'].join('\n') },
      { name: 'relaxed.test', records: ['@ IN TXT "v=spf1 ~all"'].join('\n') },
      { name: 'testing.test', records: ['@ IN TXT "v=spf1 -all"', '_dmarc IN TXT "v=DMARC1; p=reject; t=y"'].join('\n') },
      { name: 'helo.test', records: [`mail IN TXT "v=spf1 ip4:${GOOD_IP} -all"`].join('\n') },
      { name: '2.0.192.in-addr.arpa', records: ['10 IN PTR mail.sender.test.', '11 IN PTR liar.sender.test.'].join('\n') },
      { name: '8.b.d.0.1.0.0.2.ip6.arpa', records: '' },
      { name: '100.51.198.in-addr.arpa', records: '' },
    ],
  });
  resolver = createResolver({ servers: [knot.server], timeoutMs: 300, attempts: 1 });
  store = await openTestStore(join(dir, 'store.db'));
  writer = createEvaluationWriter({ sink: store.openEvaluationSink(), logger, location: store.location, maxQueue: 1000, batchSize: 10, flushMs: 10 });
  const { config } = decodeConfig({ inbound: { authserv_id: ID }, outbound: { trusted_networks: [] } });
  server = await startMilterServer({
    listen: [{ kind: 'tcp', host: '127.0.0.1', port: 0 }],
    factory: createInboundFilterFactory({ config, logger, metrics: new Registry(), dns: resolver, evaluations: writer, keys: noKeys, now: Date.now }),
    logger,
  });
});

test.after.always(async () => {
  await server?.close({ drainMs: 100 });
  await writer?.close();
  await store?.close();
  await knot?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function rawMessage(from: string, extraHeaders = '', body = 'Hello Bob,\r\n\r\nthis is a test.\r\n'): Buffer {
  return Buffer.from(`${extraHeaders}From: Alice <${from}>\r\nTo: bob@anchor.test\r\nSubject: inbound test\r\nDate: Sun, 22 Nov 2026 12:00:00 +0000\r\nMessage-ID: <${Math.random().toString(36).slice(2)}@x>\r\n\r\n${body}`, 'latin1');
}

async function deliver(raw: Buffer, opts: { ip?: string; from?: string; helo?: string; tamper?: (h: Array<[string, string]>, b: Buffer) => Buffer } = {}) {
  const { headers, body } = splitMessage(raw);
  const msg: SimpleMessage = {
    client: { hostname: 'mail.sender.test', address: opts.ip ?? GOOD_IP },
    helo: opts.helo ?? 'mail.sender.test',
    from: opts.from ?? 'alice@sender.test',
    rcpts: ['bob@anchor.test'],
    headers,
    body: opts.tamper ? opts.tamper(headers, body) : body,
    macros: { connect: { j: ID } },
  };
  const c = await MilterClient.connect(server.addresses[0]!);
  await c.negotiate();
  const r = await sendMessage(c, msg);
  c.quit();
  const ar = r.eom?.modifications.find((m): m is Extract<ClientModification, { kind: 'insert-header' }> => m.kind === 'insert-header' && m.name === 'Authentication-Results');
  return { reply: r.eom?.reply, mods: r.eom?.modifications ?? [], ar: ar?.value ?? '', arIndex: ar?.index };
}

it('RSA (relaxed/simple) and Ed25519 (simple/simple) signatures by dkimsign, SPF and DMARC pass, iprev pass', async (t) => {
  let raw = await dkimsign(rawMessage('alice@sender.test'), 'sender.test', keys.rsa);
  raw = await dkimsign(raw, 'sender.test', keys.ed, { header: 'simple', body: 'simple' });
  const r = await deliver(raw);
  t.is(r.reply?.kind, 'continue');
  t.is(r.arIndex, 0, 'inserted at the top');
  t.true(r.ar.startsWith(` ${ID};`), r.ar);
  t.regex(r.ar, /dkim=pass [^;]*header\.s=rsa2026/);
  t.regex(r.ar, /dkim=pass [^;]*header\.a=ed25519-sha256/);
  t.regex(r.ar, /spf=pass /);
  t.regex(r.ar, /dmarc=pass /);
  t.regex(r.ar, /iprev=pass \(mail\.sender\.test\) policy\.iprev=192\.0\.2\.10/);
});

it('forged Authentication-Results claiming our authserv-id are removed (last first); others are kept', async (t) => {
  const forged = `Authentication-Results: ${ID}; dkim=pass header.d=sender.test\r\nAuthentication-Results: other.example; spf=pass\r\nAuthentication-Results: (comment)\r\n ${ID.toUpperCase()} 1; dmarc=pass\r\n`;
  const raw = await dkimsign(rawMessage('alice@sender.test', forged), 'sender.test', keys.rsa);
  const r = await deliver(raw);
  const deletions = r.mods.filter((m) => m.kind === 'change-header');
  t.deepEqual(deletions.map((m) => m.kind === 'change-header' && [m.name, m.index, m.value]), [['Authentication-Results', 3, ''], ['Authentication-Results', 1, '']]);
});

it('tampered body and a client SPF does not allow: dkim=fail, spf=fail, dmarc=fail → 550 5.7.1 naming the domain', async (t) => {
  const raw = await dkimsign(rawMessage('alice@sender.test'), 'sender.test', keys.rsa);
  const r = await deliver(raw, { ip: '198.51.100.7', tamper: (_h, b) => Buffer.concat([b, Buffer.from('P.S. appended\r\n')]) });
  t.deepEqual(r.reply, { kind: 'replycode', text: '550 5.7.1 Message rejected: DMARC policy of sender.test (p=reject) failed: not authenticated by an aligned SPF or DKIM' });
  t.deepEqual(r.mods, [], 'nothing is added to a rejected message');
  // mailauth reports a body hash mismatch as neutral (RFC 6376 §6.1.3 leaves the label open).
  t.true(
    lines.some((l) => l['dmarc'] === 'fail' && /^(fail|neutral):sender\.test$/.test(String(l['dkim'])) && l['spf'] === 'fail' && l['policy'] === 'reject' && l['reason'] === 'dmarc fail, policy reject of sender.test'),
    'decision and reason in the log line',
  );
});

it('p=quarantine → Postfix hold queue (milter quarantine); t=y softens reject to quarantine', async (t) => {
  const q = await deliver(rawMessage('carol@quarantine.test'), { from: 'carol@quarantine.test' });
  t.is(q.reply?.kind, 'continue');
  t.truthy(q.mods.find((m) => m.kind === 'quarantine'));
  t.regex(q.ar, /dmarc=fail/);
  const tst = await deliver(rawMessage('dan@testing.test'), { from: 'dan@testing.test' });
  t.is(tst.reply?.kind, 'continue');
  t.truthy(tst.mods.find((m) => m.kind === 'quarantine'), 'reject under t=y applies as quarantine (RFC 9989)');
});

it('no DMARC record: dmarc=none, delivered; SPF softfail; no signature: dkim=none', async (t) => {
  const r = await deliver(rawMessage('erin@relaxed.test'), { from: 'erin@relaxed.test' });
  t.is(r.reply?.kind, 'continue');
  t.regex(r.ar, /dkim=none/);
  t.regex(r.ar, /spf=softfail/);
  t.regex(r.ar, /dmarc=none/);
  t.falsy(r.mods.find((m) => m.kind === 'quarantine'));
});

it('a 768-bit key is dkim=policy (RFC 8301 §3.2), never a pass; the null sender is checked on the HELO identity', async (t) => {
  // From a domain without DMARC, so the message is delivered and the header can be read.
  const raw = await dkimsign(rawMessage('erin@relaxed.test'), 'sender.test', keys.weak);
  const r = await deliver(raw, { from: '', helo: 'mail.helo.test' });
  t.regex(r.ar, /dkim=policy[^;]*reason="weak key \(768 bits, at least 1024 required\)"[^;]*header\.s=weak/);
  t.notRegex(r.ar, /dkim=pass/);
  t.regex(r.ar, /spf=pass[^;]*smtp\.helo=mail\.helo\.test/);
});

it('several From headers → 550 (RFC 7489 §6.6.1), not pass', async (t) => {
  const raw = await dkimsign(rawMessage('alice@sender.test', 'From: mallory@evil.test\r\n'), 'sender.test', keys.rsa);
  const r = await deliver(raw);
  t.is(r.reply?.kind, 'replycode');
  t.regex(r.reply?.kind === 'replycode' ? r.reply.text : '', /^550 5\.7\.1 .*several From/);
});

it('IPv6 client without PTR: iprev=permerror (RFC 8601 §2.7.3); a PTR that does not resolve back: iprev=fail', async (t) => {
  const v6 = await deliver(rawMessage('erin@relaxed.test'), { ip: '2001:db8::25', from: 'erin@relaxed.test' });
  t.regex(v6.ar, /iprev=permerror\s+reason="no PTR record \(NXDOMAIN\)"\s+policy\.iprev="2001:db8::25"/); // ":" is a tspecial: quoted
  const liar = await deliver(rawMessage('erin@relaxed.test'), { ip: '192.0.2.11', from: 'erin@relaxed.test' });
  t.regex(liar.ar, /iprev=fail\s+reason="[^"]*"\s+policy\.iprev=192\.0\.2\.11/);
});

it('each evaluation is recorded for aggregate reports', async (t) => {
  await writer.flush();
  const { rows } = await store.evaluations.list({ from: 0, to: Date.now() + 1000, policyDomain: 'sender.test' });
  t.true(rows.length >= 2, `rows: ${rows.length}`);
  const rejected = rows.find((r) => r.evaluation.disposition === 'reject');
  t.truthy(rejected);
  t.is(rejected?.evaluation.policy?.p, 'reject');
  t.deepEqual(rejected?.evaluation.policy?.rua, ['mailto:dmarc@sender.test']);
});

it('DNS down: temperror → 451 4.7.1, and the milter keeps serving', async (t) => {
  resolver.clear();
  await knot.freeze();
  try {
    const r = await deliver(rawMessage('alice@sender.test'), {});
    t.is(r.reply?.kind, 'replycode');
    t.regex(r.reply?.kind === 'replycode' ? r.reply.text : '', /^451 4\.7\.1 /);
    t.true(lines.some((l) => l['message'] === 'message' && l['dmarc'] === 'temperror' && l['policy'] === 'tempfail'));
  } finally {
    await knot.thaw();
  }
  resolver.clear();
  const ok = await deliver(await dkimsign(rawMessage('alice@sender.test'), 'sender.test', keys.rsa));
  t.is(ok.reply?.kind, 'continue');
});
