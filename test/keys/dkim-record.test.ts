import test from 'ava';
import { generateKeyPairSync } from 'node:crypto';
import { dkimRecordForKey, dkimRecordValue, splitTxt } from '../../src/keys/dkim-record.ts';

test('RSA 2048 record is split into strings of at most 255 octets that join back', (t) => {
  const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const value = dkimRecordForKey('rsa-sha256', publicKey.export({ type: 'spki', format: 'pem' }).toString());
  t.true(value.startsWith('v=DKIM1; k=rsa; p=MIIBIjAN'));
  const parts = splitTxt(value);
  t.true(parts.length > 1);
  t.true(parts.every((p) => Buffer.byteLength(p) <= 255));
  t.is(parts.join(''), value);
});

test('Ed25519 p= is the raw 32-byte key (RFC 8463), not the SPKI', (t) => {
  const { publicKey } = generateKeyPairSync('ed25519');
  const value = dkimRecordForKey('ed25519-sha256', publicKey.export({ type: 'spki', format: 'pem' }).toString());
  const p = value.replace(/^v=DKIM1; k=ed25519; p=/, '');
  t.is(Buffer.from(p, 'base64').length, 32);
  t.deepEqual(splitTxt(value), [value]);
});

test('revoked record has an empty p= (RFC 6376 §3.6.1)', (t) => {
  t.is(dkimRecordValue('rsa-sha256', ''), 'v=DKIM1; k=rsa; p=');
});
