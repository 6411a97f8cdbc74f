/** DKIM key records (RFC 6376 §3.6.1, RFC 8463 §4) → KeyObject, table-driven. */
import test from 'ava';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { MAX_RSA_BITS, parseKeyRecord } from '../../../src/auth/dkim/key-record.ts';
import { keyRecord } from '../../support/dkim-run.ts';

const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
const ed = generateKeyPairSync('ed25519');
const spki = rsa.publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
const pkcs1 = rsa.publicKey.export({ type: 'pkcs1', format: 'der' }).toString('base64');
const edRaw = Buffer.from(ed.publicKey.export({ format: 'jwk' }).x!, 'base64url').toString('base64');

test('RSA as SubjectPublicKeyInfo and as bare PKCS#1 RSAPublicKey; Ed25519 as the raw 32 octets', (t) => {
  for (const p of [spki, pkcs1]) {
    const r = parseKeyRecord(`v=DKIM1; k=rsa; p=${p}`);
    t.is(r.kind, 'key');
    if (r.kind === 'key') t.like(r.key, { type: 'rsa', bits: 1024, testing: false, strict: false });
  }
  const e = parseKeyRecord(`v=DKIM1; k=ed25519; p=${edRaw}`);
  t.is(e.kind, 'key');
  if (e.kind === 'key') {
    t.like(e.key, { type: 'ed25519', bits: 256 });
    t.true(e.key.key.equals(ed.publicKey));
  }
  // k= defaults to rsa; v= is optional; p= may be folded (whitespace ignored).
  t.is(parseKeyRecord(`p=${spki}`).kind, 'key');
  t.is(parseKeyRecord(`v=DKIM1; p=${spki.slice(0, 40)}\r\n ${spki.slice(40)}`).kind, 'key');
});

test('flags, hashes and services: t=y / t=s, h= list, s= email or *', (t) => {
  const r = parseKeyRecord(`v=DKIM1; t=y:s:future; h=sha256 : sha1; s=email; p=${spki}`);
  t.is(r.kind, 'key');
  if (r.kind === 'key') t.like(r.key, { testing: true, strict: true, hashes: ['sha256', 'sha1'] });
  t.is(parseKeyRecord(`s=*; p=${spki}`).kind, 'key');
  t.is(parseKeyRecord(`s=other:email; p=${spki}`).kind, 'key');
  t.like(parseKeyRecord(`s=other; p=${spki}`), { kind: 'invalid' });
  const noH = parseKeyRecord(`p=${spki}`);
  if (noH.kind === 'key') t.is(noH.key.hashes, undefined, 'no h= = any hash');
  // Unknown tags are ignored (§3.6.1); n= notes too.
  t.is(parseKeyRecord(`v=DKIM1; n=hello; future=1; p=${spki}`).kind, 'key');
});

test('revoked (empty p=) vs invalid', (t) => {
  t.deepEqual(parseKeyRecord('v=DKIM1; k=rsa; p='), { kind: 'revoked' });
  t.deepEqual(parseKeyRecord('v=DKIM1; p= '), { kind: 'revoked' });
  const invalid: Array<[string, RegExp]> = [
    ['v=DKIM1; k=rsa', /no p= tag/],
    [`v=DKIM2; p=${spki}`, /unknown version/],
    [`k=rsa; v=DKIM1; p=${spki}`, /not the first tag/],
    [`v=dkim1; p=${spki}`, /unknown version/],
    [`k=dsa; p=${spki}`, /unknown key type/],
    ['p=!!!!', /not base64/],
    [`p=${spki.slice(0, -4)}`, /undecodable|not base64/],
    ['p=AAAA', /undecodable/],
    [`k=ed25519; p=${spki}`, /Ed25519 key of \d+ octets/],
    [`k=rsa; p=${edRaw}`, /undecodable/],
    [`k=rsa; p=${ed.publicKey.export({ type: 'spki', format: 'der' }).toString('base64')}`, /holds a ed25519 key/],
    [`v=DKIM1; p=${spki}; p=${spki}`, /occurs twice/],
    ['v=DKIM1; p=a b\x00', /syntax/],
    [`v=DKIM1; n=${'x'.repeat(5000)}; p=${spki}`, /key record of \d+ octets/],
  ];
  for (const [text, reason] of invalid) {
    const r = parseKeyRecord(text);
    t.is(r.kind, 'invalid', text.slice(0, 60));
    if (r.kind === 'invalid') t.regex(r.reason, reason, text.slice(0, 60));
  }
});

/** DER: SEQUENCE { INTEGER n, INTEGER e } (PKCS#1 RSAPublicKey), for keys no generator makes. */
function rsaPublicKeyDer(n: Buffer, e: Buffer): Buffer {
  const len = (l: number) => (l < 0x80 ? Buffer.from([l]) : l < 0x100 ? Buffer.from([0x81, l]) : Buffer.from([0x82, l >> 8, l & 0xff]));
  const int = (b: Buffer) => {
    const v = b[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b;
    return Buffer.concat([Buffer.from([0x02]), len(v.length), v]);
  };
  const body = Buffer.concat([int(n), int(e)]);
  return Buffer.concat([Buffer.from([0x30]), len(body.length), body]);
}

test('bounds: RSA moduli over 8192 bits and public exponents over 64 bits are refused (a verify would cost a private-key operation)', (t) => {
  const modulus = (bits: number) => {
    const n = randomBytes(bits / 8);
    n[0]! |= 0x80;
    n[n.length - 1]! |= 1;
    return n;
  };
  const big = parseKeyRecord(`p=${rsaPublicKeyDer(modulus(MAX_RSA_BITS + 512), Buffer.from([1, 0, 1])).toString('base64')}`);
  t.like(big, { kind: 'invalid' });
  if (big.kind === 'invalid') t.regex(big.reason, /RSA key of 8704 bits/);
  const hugeE = Buffer.alloc(9, 0);
  hugeE[0] = 1;
  hugeE[8] = 1;
  const e = parseKeyRecord(`p=${rsaPublicKeyDer(modulus(2048), hugeE).toString('base64')}`);
  t.like(e, { kind: 'invalid' });
  if (e.kind === 'invalid') t.regex(e.reason, /exponent over 64 bits/);
  t.is(parseKeyRecord(`p=${rsaPublicKeyDer(modulus(MAX_RSA_BITS), Buffer.from([1, 0, 1])).toString('base64')}`).kind, 'key');
});

test('the test helper writes records the parser reads back', (t) => {
  t.is(parseKeyRecord(keyRecord(rsa.privateKey)).kind, 'key');
  t.is(parseKeyRecord(keyRecord(rsa.privateKey, 't=s', { pkcs1: true })).kind, 'key');
  t.is(parseKeyRecord(keyRecord(ed.privateKey)).kind, 'key');
});
