/**
 * Outbound signing end to end: swaks → a private real Postfix with smtpd_milters → the real
 * `mailanchor milter` (default `mail` filter) → smtp-sink. The delivered copy (after Postfix's
 * own header handling) verifies with python3-dkim and mailauth; mail from an untrusted client
 * (XCLIENT address) with our From is not signed; a key activated in the store while the
 * milter runs is used for the next message without a restart.
 */
import test from 'ava';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKey } from '../../src/keys/generate.ts';
import { dkimRecordForKey } from '../../src/keys/dkim-record.ts';
import type { KeyStore } from '../../src/keys/key-store.ts';
import type { DkimAlgorithm } from '../../src/keys/signing-keys.ts';
import type { Store } from '../../src/store/store.ts';
import { openTestStore } from '../support/store.ts';
import { startMilterProcess, type MilterProcess } from '../support/milter-process.ts';
import { postfixMissing, startMilterPostfix, swaks, type Postfix } from '../support/postfix.ts';
import { smtpSinkMissing, startSmtpSink, type SmtpSink } from '../support/smtp-sink.ts';
import { mailauthVerify, pythonDkimVerify } from '../support/dkim-verifiers.ts';

const missing = postfixMissing() ?? smtpSinkMissing() ?? (existsSync('/usr/bin/swaks') ? undefined : 'swaks not installed');
const it = missing ? test.serial.skip : test.serial;
if (missing) test.skip(`outbound signing through Postfix: ${missing}`, () => {});

let dir = '';
let sink: SmtpSink | undefined;
let pf: Postfix | undefined;
let milter: MilterProcess | undefined;
let opened: Store;
let store: KeyStore;
const records: Record<string, string> = {};

async function addKey(selector: string, algorithm: DkimAlgorithm, state: 'active' | 'published'): Promise<string> {
  const k = generateKey(algorithm);
  const id = `${selector}-${algorithm}`;
  await store.insert({ id, domain: 'anchor.test', selector, algorithm, state, createdAt: Date.now(), privateKeyPem: k.privateKeyPem, publicKeyPem: k.publicKeyPem });
  records[`${selector}._domainkey.anchor.test`] = dkimRecordForKey(algorithm, k.publicKeyPem);
  return id;
}

test.before(async () => {
  if (missing) return;
  dir = await mkdtemp(join(tmpdir(), 'mailanchor-outbound-'));
  const dbPath = join(dir, 'state', 'mailanchor.db');
  opened = await openTestStore(dbPath);
  store = opened.keys;
  await addKey('r2026a', 'rsa-sha256', 'active');
  await addKey('e2026a', 'ed25519-sha256', 'active');
  const config = join(dir, 'mailanchor.yml');
  await writeFile(config, `store:\n  path: ${dbPath}\ndns:\n  servers: ["127.0.0.1:1"]\n  timeout: 200ms\ninbound:\n  iprev: false\n  on_temperror: accept\noutbound:\n  trusted_networks: ["127.0.0.1/32"]\n`);
  milter = await startMilterProcess(['--config', config]);
  const port = milter.port;
  sink = await startSmtpSink();
  pf = await startMilterPostfix({ milterPort: port, relayPort: sink.port, relayDomains: ['example.net'] });
});

test.after.always(async () => {
  await milter?.stop();
  await pf?.stop();
  await sink?.stop();
  await opened?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function sendAndFetch(rcpt: string, extra: string[] = []): Promise<Buffer> {
  const r = await swaks(pf!.smtpPort, [
    '--from', 'alice@anchor.test', '--to', rcpt,
    '--header', 'From: Alice <alice@anchor.test>', '--header', `Subject: signed ${rcpt}`,
    '--body', 'Hello,\r\n\r\nsigned by mailanchor.   \r\n\r\n', ...extra,
  ]);
  if (r.code !== 0) throw new Error(r.output);
  await pf!.waitDelivered(rcpt);
  const m = (await sink!.messages()).find((x) => x.rcpt.includes(rcpt));
  if (!m) throw new Error(`no message for ${rcpt} in the sink`);
  return m.raw;
}

/** smtp-sink prepends its own X- lines; DKIM ignores unsigned headers, but keep the message as Postfix sent it. */
function asSent(raw: Buffer): Buffer {
  return Buffer.from(raw.toString('latin1').replace(/^(X-(Client|Helo|Mail|Rcpt)-[A-Za-z]+:.*\r?\n)+/i, '').replace(/\r?\n/g, '\r\n'), 'latin1');
}

it('mail from a trusted client is signed with RSA and Ed25519; both verify after Postfix (python3-dkim, mailauth)', async (t) => {
  const msg = asSent(await sendAndFetch('bob@example.net'));
  const text = msg.toString('latin1');
  t.regex(text, /^DKIM-Signature: v=1; a=(rsa|ed25519)-sha256;/m);
  t.is([...text.matchAll(/^DKIM-Signature:/gm)].length, 2);
  t.deepEqual(await pythonDkimVerify(msg, records), [true, true]);
  t.deepEqual(await mailauthVerify(msg, records), ['pass', 'pass']);
});

it('oversigning by default: the signed copy with an extra Subject or To (a replay) fails in python3-dkim, both signatures', async (t) => {
  const msg = asSent(await sendAndFetch('replay@example.net'));
  const text = msg.toString('latin1');
  t.deepEqual(await pythonDkimVerify(msg, records), [true, true], 'the copy as delivered verifies');
  for (const h of [/\bh=[^;]*\bsubject\b[^;]*\bsubject\b/is, /\bh=[^;]*\bto\b[^;]*\bto\b/is]) {
    for (const sig of text.match(/^DKIM-Signature:.*(?:\r\n[ \t].*)*/gm) ?? []) t.regex(sig.replace(/\r\n[ \t]+/g, ' ').replace(/\s*:\s*/g, ':'), h);
  }
  // A replayer adds its own Subject or To above (or below) the signed header block.
  const [head, ...rest] = text.split('\r\n\r\n');
  const variants = {
    'Subject prepended': `Subject: Your invoice is overdue\r\n${head}`,
    'To prepended': `To: victim@example.org\r\n${head}`,
    'Subject appended': `${head}\r\nSubject: Your invoice is overdue`,
    'To appended': `${head}\r\nTo: victim@example.org`,
  };
  for (const [what, h] of Object.entries(variants)) {
    const replayed = Buffer.from([h, ...rest].join('\r\n\r\n'), 'latin1');
    t.deepEqual(await pythonDkimVerify(replayed, records), [false, false], what);
  }
  // The counterfactual: a field no signature names may still be added (so the failures above are the oversigning).
  const unsigned = Buffer.from([`X-Added-Later: 1\r\n${head}`, ...rest].join('\r\n\r\n'), 'latin1');
  t.deepEqual(await pythonDkimVerify(unsigned, records), [true, true]);
});

it('the same From from an untrusted client (XCLIENT 203.0.113.5) is not signed', async (t) => {
  const msg = asSent(await sendAndFetch('carol@example.net', ['--xclient-addr', '203.0.113.5', '--xclient-name', 'mail.elsewhere.test']));
  t.notRegex(msg.toString('latin1'), /^DKIM-Signature:/m);
  t.regex(msg.toString('latin1'), /^Authentication-Results: mx\.anchor\.test;/m, 'it was verified as inbound instead');
});

it('a key activated in the store is used for the next message, without a restart', async (t) => {
  const old = (await store.list()).find((k) => k.selector === 'r2026a')!;
  const next = await addKey('r2026b', 'rsa-sha256', 'published');
  await store.apply([{ id: next, state: 'active' }, { id: old.id, state: 'retired' }], Date.now());
  await new Promise((r) => setTimeout(r, 1500)); // the key source re-reads on a 1 s timer
  const msg = asSent(await sendAndFetch('dave@example.net'));
  const text = msg.toString('latin1');
  t.regex(text, /s=r2026b;/);
  t.notRegex(text, /s=r2026a;/);
  t.deepEqual(await pythonDkimVerify(msg, records), [true, true]);
});
