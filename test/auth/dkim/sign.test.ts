/**
 * Our signer against two independent verifiers (python3-dkim from Debian, mailauth), RSA and
 * Ed25519, every canonicalisation, and the bodies that trip signers up.
 */
import test from 'ava';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync } from 'node:fs';
import { BodyHasher, headerList, signMessage, type Canonicalization } from '../../../src/auth/dkim/sign.ts';
import { BodyCanonicalizer } from '../../../src/auth/dkim/canonicalize.ts';
import type { SigningKey } from '../../../src/keys/signing-keys.ts';
import { splitMessage } from '../../support/raw-message.ts';
import { mailauthVerify, pythonDkimVerify } from '../../support/dkim-verifiers.ts';

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ed = generateKeyPairSync('ed25519');
const keys: SigningKey[] = [
  { id: 'r', domain: 'anchor.test', selector: 'r2026', algorithm: 'rsa-sha256', privateKey: rsa.privateKey },
  { id: 'e', domain: 'anchor.test', selector: 'e2026', algorithm: 'ed25519-sha256', privateKey: ed.privateKey },
];
const records = {
  'r2026._domainkey.anchor.test': `v=DKIM1; k=rsa; p=${rsa.publicKey.export({ type: 'spki', format: 'der' }).toString('base64')}`,
  'e2026._domainkey.anchor.test': `v=DKIM1; k=ed25519; p=${Buffer.from(ed.publicKey.export({ format: 'jwk' }).x!, 'base64url').toString('base64')}`,
};

const SIGN_HEADERS = ['from', 'to', 'subject', 'date', 'message-id', 'mime-version', 'content-type'];

/** Signs `raw` with both keys as the milter would (headers as Postfix hands them over, body streamed in small chunks). */
async function signRaw(raw: Buffer, c: Canonicalization, chunk = 7): Promise<Buffer> {
  const { headers, body } = splitMessage(raw);
  const hasher = new BodyHasher(c.split('/')[1] as 'simple' | 'relaxed');
  for (let i = 0; i < body.length; i += chunk) hasher.write(body.subarray(i, i + chunk));
  const bh = hasher.digest();
  const sigs = await Promise.all(keys.map((key) => signMessage({ key, headers, bodyHash: bh, canonicalization: c, signHeaders: SIGN_HEADERS, timestamp: 1_795_000_000 })));
  const top = sigs.map((v) => `DKIM-Signature: ${v}\r\n`).join('');
  return Buffer.concat([Buffer.from(top, 'latin1'), raw]);
}

const messages: Array<[string, string]> = [
  ['plain', 'From: Alice <alice@anchor.test>\r\nTo: bob@example.net\r\nSubject: hello\r\nDate: Sun, 22 Nov 2026 12:00:00 +0000\r\nMessage-ID: <1@anchor.test>\r\n\r\nHello Bob.\r\n'],
  ['folded and oddly spaced headers', 'From:Alice  <alice@anchor.test>\r\nTo:   bob@example.net,\r\n\t carol@example.net  \r\nSubject:  a   long\r\n  folded\tsubject \r\nDate: Sun, 22 Nov 2026 12:00:00 +0000\r\n\r\nBody\r\n'],
  ['empty body', 'From: alice@anchor.test\r\nSubject: empty\r\n\r\n'],
  ['trailing blank lines and whitespace', 'From: alice@anchor.test\r\nSubject: ws\r\n\r\nline with trailing space   \r\n\t indented\t line\r\n\r\n\r\n\r\n'],
  ['8-bit body and headers', 'From: =?utf-8?q?Al=C3=AFce?= <alice@anchor.test>\r\nSubject: caf\xc3\xa9\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nCaf\xc3\xa9 cr\xc3\xa8me br\xc3\xbbl\xc3\xa9e\r\n'],
  ['no final CRLF', 'From: alice@anchor.test\r\nSubject: nofinal\r\n\r\nlast line without CRLF'],
  ['blank lines inside', 'From: alice@anchor.test\r\nSubject: inner\r\n\r\na\r\n\r\n\r\nb\r\n'],
];

const missing = existsSync('/usr/bin/python3') && existsSync('/usr/lib/python3/dist-packages/dkim') ? undefined : 'python3-dkim not installed';

for (const c of ['relaxed/relaxed', 'simple/simple', 'relaxed/simple', 'simple/relaxed'] as const) {
  for (const [name, text] of messages) {
    (missing ? test.skip : test)(`${c}, ${name}: python3-dkim and mailauth verify both signatures`, async (t) => {
      const signed = await signRaw(Buffer.from(text, 'latin1'), c);
      t.deepEqual(await pythonDkimVerify(signed, records), [true, true]);
      t.deepEqual(await mailauthVerify(signed, records), ['pass', 'pass']);
    });
  }
}

test('a changed body or an added From header breaks the signature (the check can fail)', async (t) => {
  const text = messages[0]![1];
  const signed = await signRaw(Buffer.from(text, 'latin1'), 'relaxed/relaxed');
  const tampered = Buffer.from(signed.toString('latin1').replace('Hello Bob.', 'Hello Bob!'), 'latin1');
  t.false((await mailauthVerify(tampered, records)).includes('pass'));
  if (!missing) t.deepEqual(await pythonDkimVerify(tampered, records), [false, false]);
  const extraFrom = Buffer.from(signed.toString('latin1').replace('To: bob', 'From: mallory@evil.test\r\nTo: bob'), 'latin1');
  t.false((await mailauthVerify(extraFrom, records)).includes('pass'), 'oversigned From');
  if (!missing) t.deepEqual(await pythonDkimVerify(extraFrom, records), [false, false]);
});

test('h= oversigns From and lists each present header per instance', (t) => {
  const h = headerList([['From', ' a'], ['To', ' b'], ['Received', ' x'], ['To', ' c']], ['to', 'subject']);
  t.deepEqual(h, ['from', 'from', 'to', 'to']);
});

test('h= oversigns the configured names, present or not, and list-* the List-* fields present', (t) => {
  const headers: Array<[string, string]> = [['From', ' a'], ['To', ' b'], ['List-Id', ' <x>'], ['List-Foo', ' y'], ['To', ' c']];
  t.deepEqual(headerList(headers, ['to', 'subject'], ['to', 'cc', 'list-*']), ['from', 'from', 'to', 'to', 'to', 'cc', 'list-id', 'list-id', 'list-foo', 'list-foo']);
  // A name only in oversign is signed too; case and repeats do not matter.
  t.deepEqual(headerList(headers, [], ['Subject', 'subject']), ['from', 'from', 'subject']);
});

test('body canonicalisation is the same whatever the chunking (every split of a tricky body)', (t) => {
  const body = Buffer.from('a  b \t\r\n\r\n \r\nc\rd\r\n\r\n\r\n', 'latin1');
  for (const canon of ['simple', 'relaxed'] as const) {
    const whole: Buffer[] = [];
    const w = new BodyCanonicalizer(canon, (b) => whole.push(Buffer.from(b)));
    w.write(body);
    w.end();
    const expected = Buffer.concat(whole).toString('latin1');
    t.is(expected, canon === 'simple' ? 'a  b \t\r\n\r\n \r\nc\rd\r\n' : 'a b\r\n\r\n\r\nc\rd\r\n');
    for (let i = 0; i <= body.length; i++) {
      const parts: Buffer[] = [];
      const c = new BodyCanonicalizer(canon, (b) => parts.push(Buffer.from(b)));
      c.write(body.subarray(0, i));
      c.write(body.subarray(i));
      c.end();
      t.is(Buffer.concat(parts).toString('latin1'), expected, `${canon} split at ${i}`);
    }
  }
});

test('a 16 MB single-line body hashes in one pass (no quadratic rescans)', (t) => {
  const h = new BodyHasher('relaxed');
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  const start = performance.now();
  for (let i = 0; i < 256; i++) h.write(chunk);
  h.digest();
  t.is(h.canonicalBytes, 16 * 1024 * 1024 + 2);
  t.log(`16 MiB in 64 KiB chunks: ${(performance.now() - start).toFixed(0)} ms`);
});
