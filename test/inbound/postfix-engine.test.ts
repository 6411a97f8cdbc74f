/**
 * What issue 17 changed on purpose, through real Postfix: swaks (XCLIENT sets the client
 * address the milter sees) → a private Postfix with smtpd_milters → the real `mailanchor
 * milter --dns <Knot>` → smtp-sink. Messages are written whole (swaks --data, no fix-up) so
 * the From field and the signatures are exactly what the test made.
 *
 * - rsa-sha1 (RFC 8301 §3.1) from a p=reject domain: 550, though python3-dkim calls the same
 *   signature valid and the same message signed rsa-sha256 is delivered;
 * - `From: <<<><ceo@bank.example>>>` (no usable author) from a client whose SPF passes: 550;
 * - `From: "alice@example.org via Group" <group@lists.example.net>`: one author, evaluated;
 * - ARC sealing (`inbound.arc_seal`, key from the keystore) of mail to a forwarding domain
 *   and to a forwarding destination: the copy at smtp-sink carries our ARC Set, and
 *   python3-dkim's arc_verify says pass; mail to anyone else is not sealed;
 * - `inbound.trusted_arc_sealers`: a DMARC failure sealed by a trusted forwarder (dkimpy
 *   seals) is delivered; the same from an untrusted sealer is rejected.
 */
import test from 'ava';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ArcVerifier } from '../../src/auth/arc/verify.ts';
import { BodyHashSet } from '../../src/auth/dkim/body-hash.ts';
import { KeyParseCache } from '../../src/auth/dkim/key-lookup.ts';
import type { ArcCheck } from '../../src/auth/results.ts';
import { generateKey } from '../../src/keys/generate.ts';
import { dkimRecordForKey } from '../../src/keys/dkim-record.ts';
import { parseAuthenticationResults } from '../../src/mail/auth-results.ts';
import type { Store } from '../../src/store/store.ts';
import { arcOracleMissing, pythonArcSign, pythonArcVerify } from '../support/arc-oracle.ts';
import { messageParts } from '../support/dkim-run.ts';
import { pythonDkimVerify } from '../support/dkim-verifiers.ts';
import { fakeLookup } from '../support/fake-dns.ts';
import { knotMissing, startKnot, type KnotServer } from '../support/knot.ts';
import { startMilterProcess, type MilterProcess } from '../support/milter-process.ts';
import { postfixMissing, startMilterPostfix, swaks, type Postfix } from '../support/postfix.ts';
import { smtpSinkMissing, startSmtpSink, type SmtpSink } from '../support/smtp-sink.ts';
import { openTestStore } from '../support/store.ts';
import { dkimsign, makeKey, txtData, type TestKey } from './dkim-keys.ts';

const missing =
  postfixMissing() ??
  smtpSinkMissing() ??
  knotMissing() ??
  arcOracleMissing() ??
  (existsSync('/usr/bin/swaks') ? undefined : 'swaks not installed') ??
  (existsSync('/usr/bin/dkimsign') ? undefined : 'python3-dkim (dkimsign) not installed');
const it = missing ? test.serial.skip : test.serial;
if (missing) test.skip(`issue 17 through Postfix: ${missing}`, () => {});

const ID = 'mx.anchor.test';
/** Allowed by the SPF of bank.example, sha1.example, lists.example.net and evil.example. */
const SENDER_IP = '192.0.2.10';
/** The forwarders' address: in nobody's SPF. */
const FORWARDER_IP = '198.51.100.7';
const STRANGER_IP = '203.0.113.5';

let dir = '';
let knot: KnotServer | undefined;
let sink: SmtpSink | undefined;
let pf: Postfix | undefined;
let milter: MilterProcess | undefined;
let opened: Store | undefined;
let senderKey: TestKey;
let trustedKey: TestKey;
let strangerKey: TestKey;
/** Our sealing key's DNS record (python3-dkim gets it handed in). */
let sealRecord = '';
let counter = 0;

test.before(async () => {
  if (missing) return;
  dir = await mkdtemp(join(tmpdir(), 'mailanchor-engine-pf-'));
  senderKey = makeKey(dir, 'sel2026', 'rsa-sha256');
  trustedKey = makeKey(dir, 'arc', 'rsa-sha256');
  strangerKey = makeKey(dir, 'arc2', 'rsa-sha256');
  const spf = `"v=spf1 ip4:${SENDER_IP} -all"`;
  knot = await startKnot({
    zones: [
      // Whole top-level zones, so every name a DMARC tree walk asks is answered (NXDOMAIN, not REFUSED).
      {
        name: 'example',
        records: [
          `bank IN TXT ${spf}`,
          '_dmarc.bank IN TXT "v=DMARC1; p=reject"',
          `sel2026._domainkey.bank IN TXT ${senderKey.zoneTxt}`,
          `sha1 IN TXT ${spf}`,
          '_dmarc.sha1 IN TXT "v=DMARC1; p=reject"',
          `sel2026._domainkey.sha1 IN TXT ${senderKey.zoneTxt}`,
          `evil IN TXT ${spf}`,
        ].join('\n'),
      },
      {
        name: 'net',
        records: [`lists.example IN TXT ${spf}`, '_dmarc.lists.example IN TXT "v=DMARC1; p=reject"', 'forward.example IN TXT "v=spf1 -all"'].join('\n'),
      },
      {
        name: 'org',
        records: [
          'example IN TXT "v=spf1 -all"',
          '_dmarc.example IN TXT "v=DMARC1; p=reject"',
          `arc._domainkey.trusted-fwd.example IN TXT ${trustedKey.zoneTxt}`,
          `arc2._domainkey.stranger-fwd.example IN TXT ${strangerKey.zoneTxt}`,
        ].join('\n'),
      },
      { name: 'test', records: '' },
      { name: '2.0.192.in-addr.arpa', records: '10 IN PTR mail.bank.example.' },
      { name: '100.51.198.in-addr.arpa', records: '' },
      { name: '113.0.203.in-addr.arpa', records: '' },
    ],
  });
  await knot.setRecords('example', [{ name: 'mail.bank', type: 'A', data: SENDER_IP }]);

  // Our sealing key, in the keystore the milter reads (as `mailanchor keys import` would put it).
  const dbPath = join(dir, 'state', 'mailanchor.db');
  opened = await openTestStore(dbPath);
  const k = generateKey('rsa-sha256');
  await opened.keys.insert({ id: 'seal-2026', domain: 'anchor.test', selector: 'seal2026', algorithm: 'rsa-sha256', state: 'active', createdAt: Date.now(), privateKeyPem: k.privateKeyPem, publicKeyPem: k.publicKeyPem });
  sealRecord = dkimRecordForKey('rsa-sha256', k.publicKeyPem);

  const config = join(dir, 'mailanchor.yml');
  await writeFile(
    config,
    [
      'store:',
      `  path: ${dbPath}`,
      'dns:',
      '  timeout: 500ms',
      '  attempts: 1',
      'inbound:',
      `  authserv_id: ${ID}`,
      '  trusted_arc_sealers:',
      '    - domain: trusted-fwd.example.org',
      '  arc_seal:',
      '    enabled: true',
      '    domain: anchor.test',
      '    recipient_domains: [lists.anchor.test]',
      '    forward_to: [someone@forward.example.net]',
      'outbound:',
      '  trusted_networks: []',
      '',
    ].join('\n'),
  );
  milter = await startMilterProcess(['--config', config, '--dns', `${knot.server.host}:${knot.server.port}`]);
  sink = await startSmtpSink();
  pf = await startMilterPostfix({ milterPort: milter.port, relayPort: sink.port, relayDomains: ['anchor.test', 'forward.example.net'], mynetworks: '127.0.0.1/32' });
});

test.after.always(async () => {
  await milter?.stop();
  await pf?.stop();
  await sink?.stop();
  await knot?.stop();
  await opened?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function message(headers: readonly string[], body = 'Hello Bob,\r\n\r\nsee you at the meeting.\r\n'): Buffer {
  const id = `${Date.now()}.${++counter}`;
  return Buffer.from([...headers, 'To: bob@anchor.test', `Subject: issue 17 test ${id}`, 'Date: Tue, 1 Dec 2026 10:00:00 +0000', `Message-ID: <${id}@mail.bank.example>`, 'MIME-Version: 1.0', '', body].join('\r\n'), 'latin1');
}

/**
 * The whole message as DATA, unchanged: swaks --no-data-fixup does no token replacement, no
 * header additions — and no dot-stuffing or terminator, so those are done here (RFC 5321 §4.5.2).
 */
async function send(raw: Buffer, o: { from: string; rcpt: string; ip: string; helo?: string }) {
  const file = join(dir, `msg-${++counter}.eml`);
  const text = raw.toString('latin1').replace(/^\./gm, '..');
  await writeFile(file, Buffer.from(`${text}${text.endsWith('\r\n') ? '' : '\r\n'}.\r\n`, 'latin1'));
  return swaks(pf!.smtpPort, ['--xclient-addr', o.ip, '--xclient-name', o.helo ?? 'mail.bank.example', '--helo', o.helo ?? 'mail.bank.example', '--from', o.from, '--to', o.rcpt, '--data', `@${file}`, '--no-data-fixup']);
}

/** The copy smtp-sink received for `rcpt`, as Postfix sent it (the sink's own X- lines and Received dropped, CRLF). */
async function delivered(rcpt: string): Promise<Buffer> {
  await pf!.waitDelivered(rcpt);
  const m = (await sink!.messages()).find((x) => x.rcpt === rcpt);
  if (!m) throw new Error(`no message for ${rcpt} in the sink`);
  const text = m.raw.toString('latin1').replace(/^(X-(Client|Helo|Mail|Rcpt)-[A-Za-z]+:.*\r?\n)+/i, '').replace(/\r?\n/g, '\r\n');
  return Buffer.from(text.replace(/^Received: from [^\r]*\r\n\tby smtp-sink [^\r]*\r\n(\t[^\r]*\r\n)*/, ''), 'latin1');
}

function fieldValues(raw: Buffer, name: string): string[] {
  const head = raw.toString('latin1').split('\r\n\r\n')[0]!;
  return [...head.matchAll(new RegExp(`^${name}:(.*(?:\\r\\n[ \\t].*)*)`, 'gim'))].map((x) => x[1]!.replace(/\r\n/g, '\n'));
}

/** Our Authentication-Results (exactly one with our authserv-id; others' are kept). */
function ourResults(raw: Buffer) {
  const ours = fieldValues(raw, 'Authentication-Results')
    .map((v) => parseAuthenticationResults(v))
    .flatMap((p) => (p.ok && p.header.authservId === ID ? [p.header] : []));
  if (ours.length !== 1) throw new Error(`expected exactly one Authentication-Results of ${ID}:\n${raw.toString('latin1')}`);
  return ours[0]!;
}

/** The milter's summary line for the message to `rcpt`-ish text (logs are key=value). */
async function summaryLine(re: RegExp): Promise<string> {
  for (let i = 0; i < 100; i++) {
    const line = milter!.output().split('\n').find((l) => re.test(l));
    if (line) return line;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no milter log line matching ${re}:\n${milter!.output()}`);
}

/** Our own ArcVerifier over a delivered copy, keys handed in (the next hop's view). */
async function ourArcVerify(raw: Buffer, records: Readonly<Record<string, string>>): Promise<ArcCheck> {
  const { headers, body } = messageParts(raw);
  const dns = fakeLookup(Object.fromEntries(Object.entries(records).map(([name, txt]) => [name, { TXT: [txt] }])));
  const v = new ArcVerifier({ dns, keyCache: new KeyParseCache(), now: Date.now, minKeyBits: 1024 });
  const set = new BodyHashSet();
  v.start(headers, set);
  set.write(body);
  set.end();
  return v.finish();
}

it('rsa-sha1 is not a pass (RFC 8301 §3.1): 550 from a p=reject domain although the signature is cryptographically valid', async (t) => {
  const raw = message(['From: Alice <alice@sha1.example>']);
  const sha1 = await dkimsign(raw, 'sha1.example', senderKey, { signalg: 'rsa-sha1' });
  t.regex(sha1.toString('latin1'), /^DKIM-Signature: .*a=rsa-sha1;/m);
  // The counterfactual: python3-dkim (lenient about sha1) calls it valid, so only the algorithm rule can refuse it.
  t.deepEqual(await pythonDkimVerify(sha1, { 'sel2026._domainkey.sha1.example': senderKey.record }), [true]);
  const r = await send(sha1, { from: 'alice@sha1.example', rcpt: 'sha1-bob@anchor.test', ip: STRANGER_IP });
  t.not(r.code, 0);
  t.regex(r.output, /<\*\* +550 5\.7\.1 Message rejected: DMARC policy of sha1\.example \(p=reject\) failed/);
  t.regex(await summaryLine(/dkim=policy:sha1\.example/), /dmarc=fail/);

  // The same message, signed rsa-sha256 with the same key, from the same client: delivered on DKIM.
  const sha256 = await dkimsign(raw, 'sha1.example', senderKey);
  const ok = await send(sha256, { from: 'alice@sha1.example', rcpt: 'sha256-bob@anchor.test', ip: STRANGER_IP });
  t.is(ok.code, 0, ok.output);
  const ar = ourResults(await delivered('sha256-bob@anchor.test'));
  t.like(ar.results.find((x) => x.method === 'dkim'), { result: 'pass' });
  t.like(ar.results.find((x) => x.method === 'dmarc'), { result: 'pass' });
});

it('From: <<<><ceo@bank.example>>> with bank.example at p=reject: 550 (no usable author), not a silent pass', async (t) => {
  // The envelope passes SPF for evil.example: a filter that skipped DMARC here would deliver.
  const raw = message(['From: <<<><ceo@bank.example>>>']);
  const r = await send(raw, { from: 'ceo@evil.example', rcpt: 'angle-bob@anchor.test', ip: SENDER_IP });
  t.not(r.code, 0);
  t.regex(r.output, /<\*\* +550 5\.7\.1 Message rejected: no usable From author domain/);
  t.regex(await summaryLine(/dmarc=permerror/), /policy=reject/);
});

it('From: "alice@example.org via Group" <group@lists.example.net>: one author (lists.example.net), evaluated and delivered', async (t) => {
  const raw = message(['From: "alice@example.org via Group" <group@lists.example.net>', 'Reply-To: alice@example.org']);
  const r = await send(raw, { from: 'bounces@lists.example.net', rcpt: 'group-bob@anchor.test', ip: SENDER_IP });
  t.is(r.code, 0, r.output);
  const ar = ourResults(await delivered('group-bob@anchor.test'));
  const dmarc = ar.results.filter((x) => x.method === 'dmarc');
  t.is(dmarc.length, 1);
  t.is(dmarc[0]!.result, 'pass');
  t.deepEqual(dmarc[0]!.properties.map((p) => `${p.ptype}.${p.property}=${p.value}`), ['header.from=lists.example.net']);
  t.like(ar.results.find((x) => x.method === 'spf'), { result: 'pass' });
});

for (const [rcpt, why] of [
  ['list@lists.anchor.test', 'recipient_domains'],
  ['someone@forward.example.net', 'forward_to'],
] as const) {
  it(`ARC sealing of forwarded mail (${why}): the relayed copy carries our ARC Set, python3-dkim arc_verify says pass`, async (t) => {
    const raw = await dkimsign(message(['From: Alice <alice@bank.example>']), 'bank.example', senderKey);
    const r = await send(raw, { from: 'alice@bank.example', rcpt, ip: SENDER_IP });
    t.is(r.code, 0, r.output);
    const msg = await delivered(rcpt);
    const text = msg.toString('latin1');
    const head = text.split('\r\n\r\n')[0]!.split(/\r\n(?![ \t])/).map((l) => l.slice(0, l.indexOf(':')));
    t.deepEqual(head.slice(0, 4), ['ARC-Seal', 'ARC-Message-Signature', 'ARC-Authentication-Results', 'Authentication-Results'], text);
    const as = fieldValues(msg, 'ARC-Seal')[0]!;
    t.regex(as, /i=1;/);
    t.regex(as, /cv=none;/);
    t.regex(as, /d=anchor\.test;/);
    t.regex(as, /s=seal2026;/);
    const aar = fieldValues(msg, 'ARC-Authentication-Results')[0]!;
    t.regex(aar, /^ i=1; mx\.anchor\.test;/);
    t.regex(aar, /dkim=pass[\s\S]*spf=pass[\s\S]*arc=none[\s\S]*dmarc=pass/, 'the AAR carries our verification results');
    const py = await pythonArcVerify(msg, { 'seal2026._domainkey.anchor.test': sealRecord });
    t.is(py.cv, 'pass', py.reason);
    t.deepEqual(py.instances, [{ instance: 1, ams: true, as: true, cv: 'none' }]);
    t.like(await ourArcVerify(msg, { 'seal2026._domainkey.anchor.test': sealRecord }), { result: 'pass', instances: 1, sealers: ['anchor.test'] });
    // The independent verifier is not a rubber stamp: a changed Subject breaks our AMS for it.
    const changed = Buffer.from(text.replace(/^Subject: /m, 'Subject: [changed] '), 'latin1');
    t.is((await pythonArcVerify(changed, { 'seal2026._domainkey.anchor.test': sealRecord })).cv, 'fail');
  });
}

it('mail to a recipient no arc_seal rule names is not sealed', async (t) => {
  const raw = await dkimsign(message(['From: Alice <alice@bank.example>']), 'bank.example', senderKey);
  const r = await send(raw, { from: 'alice@bank.example', rcpt: 'plain-bob@anchor.test', ip: SENDER_IP });
  t.is(r.code, 0, r.output);
  const msg = await delivered('plain-bob@anchor.test');
  t.notRegex(msg.toString('latin1'), /^ARC-/im);
  t.like(ourResults(msg).results.find((x) => x.method === 'arc'), { result: 'none' });
});

/**
 * bank.example's mail as a list forwards it: Subject tagged (the DKIM signature breaks), sent
 * from the forwarder's address (SPF fails), sealed by the forwarder (dkimpy's arc_sign over
 * its own A-R: it had seen dkim=pass, dmarc=pass).
 */
async function forwardedBy(domain: string, key: TestKey): Promise<Buffer> {
  const original = (await dkimsign(message(['From: Alice <alice@bank.example>']), 'bank.example', senderKey)).toString('latin1');
  const listed = original.replace(/^Subject: /m, 'Subject: [list] ');
  const srvId = `mx.${domain}`;
  const withAr = Buffer.from(`Authentication-Results: ${srvId}; arc=none; spf=pass smtp.mailfrom=bank.example; dkim=pass header.d=bank.example; dmarc=pass header.from=bank.example\r\n${listed}`, 'latin1');
  const lines = await pythonArcSign(withAr, {
    selector: key.selector,
    domain,
    privateKeyPem: readFileSync(key.keyFile, 'utf8'),
    srvId,
    headers: ['from', 'to', 'subject', 'date', 'message-id'],
    timestamp: Math.floor(Date.now() / 1000),
  });
  if (lines.length !== 3) throw new Error(`dkimpy did not seal: ${JSON.stringify(lines)}`);
  return Buffer.from(`${lines.join('')}${withAr.toString('latin1')}`, 'latin1');
}

it('trusted ARC sealer: a DMARC fail sealed by trusted-fwd.example.org is delivered; the same from an untrusted sealer is rejected', async (t) => {
  const trusted = await forwardedBy('trusted-fwd.example.org', trustedKey);
  const r1 = await send(trusted, { from: 'list-bounces@trusted-fwd.example.org', rcpt: 'trusted-bob@anchor.test', ip: FORWARDER_IP, helo: 'mail.trusted-fwd.example.org' });
  t.is(r1.code, 0, r1.output);
  const ar = ourResults(await delivered('trusted-bob@anchor.test'));
  t.like(ar.results.find((x) => x.method === 'arc'), { result: 'pass' });
  t.like(ar.results.find((x) => x.method === 'dmarc'), { result: 'fail' }, 'DMARC itself failed: the ARC sealer lowered the policy');
  t.like(ar.results.find((x) => x.method === 'dkim'), { result: 'fail' });
  t.regex(await summaryLine(/reason=.*trusted_forwarder: ARC sealed by trusted-fwd\.example\.org/), /policy=deliver/);

  const stranger = await forwardedBy('stranger-fwd.example.org', strangerKey);
  const r2 = await send(stranger, { from: 'list-bounces@stranger-fwd.example.org', rcpt: 'stranger-bob@anchor.test', ip: FORWARDER_IP, helo: 'mail.stranger-fwd.example.org' });
  t.not(r2.code, 0);
  t.regex(r2.output, /<\*\* +550 5\.7\.1 Message rejected: DMARC policy of bank\.example \(p=reject\) failed/);
  t.regex(await summaryLine(/arc=pass.*policy=reject|policy=reject.*arc=pass/), /dmarc=fail/);
});

it('a chain we receive and pass on: our seal is i=2 cv=pass on top of the forwarder\'s, and python3-dkim validates both', async (t) => {
  const forwarded = await forwardedBy('trusted-fwd.example.org', trustedKey);
  const r = await send(forwarded, { from: 'list-bounces@trusted-fwd.example.org', rcpt: 'nested@lists.anchor.test', ip: FORWARDER_IP, helo: 'mail.trusted-fwd.example.org' });
  t.is(r.code, 0, r.output);
  const msg = await delivered('nested@lists.anchor.test');
  const as = fieldValues(msg, 'ARC-Seal')[0]!;
  t.regex(as, /i=2;/);
  t.regex(as, /cv=pass;/);
  t.regex(fieldValues(msg, 'ARC-Authentication-Results')[0]!, /arc=pass/);
  const records = { 'seal2026._domainkey.anchor.test': sealRecord, 'arc._domainkey.trusted-fwd.example.org': trustedKey.record };
  const py = await pythonArcVerify(msg, records);
  t.is(py.cv, 'pass', py.reason);
  t.deepEqual(py.instances.map((i) => [i.instance, i.ams, i.as, i.cv]), [
    [2, true, true, 'pass'],
    [1, true, true, 'none'], // the forwarder signed the Subject it tagged; only bank.example's DKIM signature broke
  ]);
  t.like(await ourArcVerify(msg, records), { result: 'pass', instances: 2, sealers: ['trusted-fwd.example.org', 'anchor.test'] });
});
