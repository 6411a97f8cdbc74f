/**
 * RFC 8463 Appendix A as data (test/fixtures/suites/dkim-rfc8463/): both signatures of A.3
 * verify through DkimVerifier against A.2's key records, a tampered copy fails, and our signer
 * with A.1's keys, the same signature header text and t= reproduces the published b= values
 * byte for byte (RSASSA-PKCS1-v1_5 and Ed25519 are deterministic).
 */
import test from 'ava';
import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BodyHasher, signatureValue } from '../../../src/auth/dkim/sign.ts';
import { parseDkimSignature } from '../../../src/auth/dkim/signature.ts';
import { compact, parseTagList } from '../../../src/auth/dkim/tags.ts';
import { fakeLookup } from '../../support/fake-dns.ts';
import { messageParts, verifyMessage } from '../../support/dkim-run.ts';

const DIR = join(import.meta.dirname, '..', '..', 'fixtures', 'suites', 'dkim-rfc8463');
const file = (name: string): Buffer => readFileSync(join(DIR, name));

/** A.2's zone file: `owner. IN TXT "…"` lines. */
function zone(): ReturnType<typeof fakeLookup> {
  const entries: Record<string, { TXT: string[] }> = {};
  for (const line of file('A2-dns-records.zone').toString('latin1').split('\n')) {
    const m = /^(\S+)\s+IN\s+TXT\s+"(.*)"\s*$/.exec(line);
    if (m) entries[m[1]!] = { TXT: [m[2]!] };
  }
  return fakeLookup(entries);
}

/** The signatures are from 2018 and carry no x=; any verification time will do. */
const NOW = Date.UTC(2018, 5, 10, 13, 38, 29);

test('A.3: both signatures verify (Ed25519 brisbane, RSA test)', async (t) => {
  const dns = zone();
  const { checks } = await verifyMessage(file('A3-signed-message.eml'), { dns, now: NOW });
  t.is(checks.length, 2);
  t.like(checks[0], { result: 'pass', domain: 'football.example.com', selector: 'brisbane', algorithm: 'ed25519-sha256', identity: '@football.example.com', keyBits: 256, partialBody: false });
  t.like(checks[1], { result: 'pass', domain: 'football.example.com', selector: 'test', algorithm: 'rsa-sha256', keyBits: 1024 });
  // Both key lookups went out (one each), before anything else.
  t.deepEqual(dns.calls.map((c) => c.name).sort(), ['brisbane._domainkey.football.example.com', 'test._domainkey.football.example.com']);
});

test('A.3: each single-signature copy verifies on its own', async (t) => {
  for (const [name, selector] of [['A3-ed25519-only.eml', 'brisbane'], ['A3-rsa-only.eml', 'test']] as const) {
    const { checks } = await verifyMessage(file(name), { dns: zone(), now: NOW });
    t.is(checks.length, 1, name);
    t.like(checks[0], { result: 'pass', selector }, name);
  }
});

test('A.3 tampered: a changed body fails the body hash, a changed header the signature', async (t) => {
  const text = file('A3-signed-message.eml').toString('latin1');
  const body = await verifyMessage(Buffer.from(text.replace('Are you hungry yet?', 'Are you hungry now?'), 'latin1'), { dns: zone(), now: NOW });
  t.deepEqual(body.checks.map((c) => [c.result, c.code, c.reason]), [
    ['fail', 'body-hash', 'body hash did not verify'],
    ['fail', 'body-hash', 'body hash did not verify'],
  ]);
  const header = await verifyMessage(Buffer.from(text.replace('Subject: Is dinner ready?', 'Subject: Is dinner ready!'), 'latin1'), { dns: zone(), now: NOW });
  t.deepEqual(header.checks.map((c) => [c.result, c.code, c.reason]), [
    ['fail', 'signature', 'signature did not verify'],
    ['fail', 'signature', 'signature did not verify'],
  ]);
  // Relaxed canonicalisation: refolding and extra spaces are not tampering.
  const refolded = await verifyMessage(Buffer.from(text.replace('Subject: Is dinner ready?', 'Subject:   Is dinner\r\n\t  ready?  '), 'latin1'), { dns: zone(), now: NOW });
  t.deepEqual(refolded.checks.map((c) => c.result), ['pass', 'pass']);
});

/** RFC 8463 A.1: the Ed25519 private key is the 32-octet seed, wrapped as PKCS#8. */
const ED25519 = createPrivateKey({
  key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.from(file('A1-ed25519-private-seed.b64').toString().trim(), 'base64')]),
  format: 'der',
  type: 'pkcs8',
});
const RSA = createPrivateKey(file('A1-rsa-private.pem'));

test('our signer with A.1\'s keys and the published header text reproduces both b= values byte for byte', async (t) => {
  const raw = file('A3-signed-message.eml');
  const { headers, body } = messageParts(raw);
  const hasher = new BodyHasher('relaxed');
  hasher.write(body);
  const published = headers.filter((f) => f.name === 'DKIM-Signature');
  t.is(published.length, 2);
  const unsigned = headers.filter((f) => f.name !== 'DKIM-Signature');
  for (const [i, field] of published.entries()) {
    const parsed = parseDkimSignature(field);
    if (!parsed.ok) return t.fail(parsed.reason);
    const sig = parsed.signature;
    t.is(hasher.digest(), sig.bodyHash.toString('base64'), 'bh= is the RFC\'s');
    // The same header text, b= empty: everything up to "b=" as published.
    const template = field.value.slice(0, field.value.search(/b=[^;]*$/) + 2);
    t.true(template.endsWith(' b='), `template ${i}`);
    const ours = await signatureValue({ key: { algorithm: sig.algorithm as 'rsa-sha256' | 'ed25519-sha256', privateKey: sig.keyType === 'ed25519' ? ED25519 : RSA }, headers: unsigned, h: sig.signedHeaders, value: template, headerCanon: sig.headerCanon });
    const tags = parseTagList(field.value);
    t.true(tags.ok);
    t.is(ours, compact(tags.ok ? tags.tags.get('b')! : ''), `${sig.algorithm}: b= reproduced`);
    t.is(ours, sig.signatureText);
  }
});
