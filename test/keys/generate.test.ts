import test from 'ava';
import { createPrivateKey } from 'node:crypto';
import { generateKey, nextSelector } from '../../src/keys/generate.ts';
import { KeystoreError } from '../../src/keys/errors.ts';

test('RSA default is 2048 bits, no warning', (t) => {
  const k = generateKey('rsa-sha256');
  t.is(createPrivateKey(k.privateKeyPem).asymmetricKeyDetails?.modulusLength, 2048);
  t.is(k.warning, undefined);
});

test('RSA under 1024 refused; above 2048 allowed with a warning', (t) => {
  const e = t.throws(() => generateKey('rsa-sha256', 768), { instanceOf: KeystoreError });
  t.is(e?.code, 'key-too-small');
  t.regex(generateKey('rsa-sha256', 3072).warning ?? '', /2048/);
});

test('Ed25519 key', (t) => {
  t.is(createPrivateKey(generateKey('ed25519-sha256').privateKeyPem).asymmetricKeyType, 'ed25519');
});

test('selector is date-based, per algorithm, suffixed when taken', (t) => {
  const now = Date.UTC(2026, 10, 22);
  t.is(nextSelector('rsa-sha256', now, new Set()), 'ma20261122r');
  t.is(nextSelector('ed25519-sha256', now, new Set()), 'ma20261122e');
  t.is(nextSelector('rsa-sha256', now, new Set(['ma20261122r', 'ma20261122r2'])), 'ma20261122r3');
});
