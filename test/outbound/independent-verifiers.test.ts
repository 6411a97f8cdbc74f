/**
 * Signatures made by the real `mailanchor milter` on mail relayed by a private real Postfix to
 * smtp-sink, verified by two implementations we did not write — python3-dkim (dnspython) and
 * OpenDKIM (the Debian milter, libunbound) — both reading the public keys from a real Knot DNS
 * on loopback. RSA and Ed25519; folded headers, an 8-bit message, a 10 MB message; a second
 * From, Subject or To added after signing breaks both signatures (oversigning).
 */
import test from 'ava';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dkimRecordForKey, splitTxt } from '../../src/keys/dkim-record.ts';
import { generateKey } from '../../src/keys/generate.ts';
import type { DkimAlgorithm } from '../../src/keys/signing-keys.ts';
import { openTestStore } from '../support/store.ts';
import { opendkimMissing, startOpendkimVerifier, type OpendkimVerifier } from '../support/opendkim-verifier.ts';
import { pythonDkimVerifyDns } from '../support/dkim-verifiers.ts';
import { knotMissing, startKnot, type KnotServer } from '../support/knot.ts';
import { startMilterProcess, type MilterProcess } from '../support/milter-process.ts';
import { postfixMissing, startPostfix, swaks, type Postfix } from '../support/postfix.ts';
import { smtpSinkMissing, startSmtpSink, type SmtpSink } from '../support/smtp-sink.ts';

const missing =
  postfixMissing() ?? smtpSinkMissing() ?? knotMissing() ?? opendkimMissing() ?? (existsSync('/usr/bin/swaks') ? undefined : 'swaks not installed') ?? (existsSync('/usr/lib/python3/dist-packages/dkim') ? undefined : 'python3-dkim not installed');
const it = missing ? test.serial.skip : test.serial;
if (missing) test.skip(`independent verifiers: ${missing}`, () => {});

// Not under test.: libunbound (inside OpenDKIM) answers that special-use domain itself.
const DOMAIN = 'anchor.example';
const SELECTORS = { 'rsa-sha256': 'r2026iv', 'ed25519-sha256': 'e2026iv' } as const;
let dir = '';
let knot: KnotServer | undefined;
let sink: SmtpSink | undefined;
let pf: Postfix | undefined;
let milter: MilterProcess | undefined;
let opendkim: OpendkimVerifier | undefined;

/** Knot on port 53 of a random 127.7x.y.z (libunbound's forwarder takes no port); retried if taken. */
async function startKnotOn53(records: string): Promise<KnotServer> {
  let last: unknown;
  for (let i = 0; i < 5; i++) {
    const host = `127.79.${1 + Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`;
    try {
      return await startKnot({ host, port: 53, zones: [{ name: 'example' }, { name: DOMAIN, records }] });
    } catch (err) {
      last = err;
    }
  }
  throw last;
}

test.before(async () => {
  if (missing) return;
  dir = await mkdtemp(join(tmpdir(), 'mailanchor-verifiers-'));
  const dbPath = join(dir, 'state', 'mailanchor.db');
  const store = await openTestStore(dbPath);
  const zone: string[] = [];
  for (const [algorithm, selector] of Object.entries(SELECTORS) as [DkimAlgorithm, string][]) {
    const k = generateKey(algorithm);
    await store.keys.insert({ id: selector, domain: DOMAIN, selector, algorithm, state: 'active', createdAt: Date.now(), privateKeyPem: k.privateKeyPem, publicKeyPem: k.publicKeyPem });
    zone.push(`${selector}._domainkey IN TXT ${splitTxt(dkimRecordForKey(algorithm, k.publicKeyPem)).map((s) => `"${s}"`).join(' ')}`);
  }
  await store.close();
  knot = await startKnotOn53(zone.join('\n'));
  const config = join(dir, 'mailanchor.yml');
  await writeFile(config, `store:\n  path: ${dbPath}\ndns:\n  servers: ["${knot.host}:53"]\ninbound:\n  iprev: false\noutbound:\n  trusted_networks: ["127.0.0.1/32"]\n`);
  milter = await startMilterProcess(['--config', config]);
  sink = await startSmtpSink();
  pf = await startPostfix({
    relayPort: sink.port,
    smtpd: true,
    main: { smtpd_milters: `inet:127.0.0.1:${milter.port}`, milter_default_action: 'tempfail', relay_domains: 'example.net', message_size_limit: '30000000' },
  });
  opendkim = await startOpendkimVerifier(dir, knot.host);
});

test.after.always(async () => {
  await opendkim?.stop();
  await milter?.stop();
  await pf?.stop();
  await sink?.stop();
  await knot?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Sends `raw` (headers + body, CRLF) through Postfix and returns the copy smtp-sink got, as Postfix sent it. */
async function relay(name: string, raw: string | Buffer): Promise<Buffer> {
  const rcpt = `${name}@example.net`;
  const file = join(dir, `${name}.eml`);
  await writeFile(file, raw);
  // --suppress-data: swaks would echo 10 MB into the pipe otherwise.
  const r = await swaks(pf!.smtpPort, ['--from', `alice@${DOMAIN}`, '--to', rcpt, '--data', `@${file}`, '--suppress-data']);
  if (r.code !== 0) throw new Error(r.output.slice(-2000));
  await pf!.waitDelivered(rcpt);
  const m = (await sink!.messages()).find((x) => x.rcpt.includes(rcpt));
  if (!m) throw new Error(`no message for ${rcpt} in the sink`);
  // smtp-sink prepends its own X- lines; they are not part of what Postfix sent.
  return Buffer.from(m.raw.toString('latin1').replace(/^(X-(Client|Helo|Mail|Rcpt)-[A-Za-z]+:.*\r?\n)+/i, '').replace(/\r?\n/g, '\r\n'), 'latin1');
}

const head = (subject: string, extra = ''): string =>
  `From: Alice <alice@${DOMAIN}>\r\nTo: Bob <bob@example.net>,\r\n\tCarol <carol@example.net>\r\nSubject: ${subject}\r\nDate: Sun, 22 Nov 2026 12:00:00 +0000\r\nMessage-ID: <${subject.replace(/\W/g, '')}@${DOMAIN}>\r\n${extra}`;

async function bothVerifiers(t: import('ava').ExecutionContext, msg: Buffer): Promise<void> {
  const text = msg.toString('latin1');
  t.is([...text.matchAll(/^DKIM-Signature:/gim)].length, 2, 'RSA and Ed25519 signatures');
  t.deepEqual(await pythonDkimVerifyDns(msg, knot!.server), [true, true], 'python3-dkim');
  const od = await opendkim!.verify(msg);
  t.is(od.get(SELECTORS['rsa-sha256']), 'pass', `OpenDKIM, RSA (${[...od].join(' ')})`);
  t.is(od.get(SELECTORS['ed25519-sha256']), 'pass', `OpenDKIM, Ed25519 (${[...od].join(' ')})`);
}

it('folded headers, 7-bit: python3-dkim and OpenDKIM verify both signatures through Knot', async (t) => {
  const msg = await relay('folded', `${head('a folded\r\n  subject\tline')}\r\nHello,\r\n\r\nsigned by mailanchor.   \r\n\r\n\r\n`);
  await bothVerifiers(t, msg);
});

it('8-bit headers and body (UTF-8, 8BITMIME): both verifiers pass', async (t) => {
  const raw = Buffer.from(`${head('Grüße aus Köln — ✓', 'MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n')}\r\nZürich, Łódź, 東京.\r\n\tTabs and trailing spaces   \r\n`, 'utf8');
  const msg = await relay('eightbit', raw);
  t.true(msg.includes(Buffer.from('Łódź', 'utf8')), 'the body stayed 8-bit');
  await bothVerifiers(t, msg);
});

it('a 10 MB message: both verifiers pass', async (t) => {
  const line = `${'0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ+/0123456789'}\r\n`;
  const body = line.repeat(Math.ceil((10 * 1024 * 1024) / line.length));
  const msg = await relay('big', `${head('ten megabytes')}\r\n${body}`);
  t.true(msg.length > 10 * 1024 * 1024);
  await bothVerifiers(t, msg);
});

it('a second From, Subject or To added after signing breaks both signatures in both verifiers (oversigning)', async (t) => {
  const msg = await relay('oversign', `${head('oversigned')}\r\nOriginal text.\r\n`);
  for (const extra of [`From: Mallory <mallory@${DOMAIN}>`, 'Subject: changed', 'To: eve@example.net']) {
    const tampered = Buffer.from(msg.toString('latin1').replace(/\r\n\r\n/, `\r\n${extra}\r\n\r\n`), 'latin1');
    t.deepEqual(await pythonDkimVerifyDns(tampered, knot!.server), [false, false], `python3-dkim with ${extra}`);
    const od = await opendkim!.verify(tampered);
    t.not(od.get(SELECTORS['rsa-sha256']), 'pass', `OpenDKIM RSA with ${extra}`);
    t.not(od.get(SELECTORS['ed25519-sha256']), 'pass', `OpenDKIM Ed25519 with ${extra}`);
    t.true(od.size > 0, 'OpenDKIM did report on the signatures');
  }
});
