/**
 * seal(): the instance and cv it writes, what the AMS covers, what the AS covers on a
 * failed chain (§5.1.2), when it refuses to seal, and the byte form the milter inserts.
 */
import test from 'ava';
import { generateKeyPairSync, verify } from 'node:crypto';
import { collectArcChain } from '../../../src/auth/arc/chain.ts';
import { ArcError } from '../../../src/auth/arc/errors.ts';
import { parseArcMessageSignature } from '../../../src/auth/arc/message-signature-field.ts';
import { parseArcSeal } from '../../../src/auth/arc/seal-field.ts';
import { sealHashInput } from '../../../src/auth/arc/seal-hash.ts';
import { seal } from '../../../src/auth/arc/seal.ts';
import type { ArcCheck } from '../../../src/auth/results.ts';
import type { HeaderField } from '../../../src/mail/header.ts';
import { addHop, baseBody, baseHeaders, keyDns, rsaKey, sealHop, verifyChain } from './chain-builder.ts';

const key = rsaKey('example.org', 'arc2026');
const other = rsaKey('forwarder.test', 'f1', 1024, 1);
const none: ArcCheck = { result: 'none', instances: 0, sealers: [], hopResults: [], reason: '' };

test('first seal: i=1, cv=none, AS/AMS/AAR top to bottom, values as the milter inserts them', async (t) => {
  const out = await sealHop(baseHeaders(), baseBody(), { key, chain: none, authservId: 'mx.example.org' });
  if (out.kind !== 'sealed') return t.fail();
  t.like(out, { instance: 1, cv: 'none' });
  t.deepEqual(out.fields.map((f) => f.name), ['ARC-Seal', 'ARC-Message-Signature', 'ARC-Authentication-Results']);
  const [as, ams, aar] = out.fields as [HeaderField, HeaderField, HeaderField];
  for (const f of out.fields) {
    t.false(/^[ \t]/.test(f.value), 'no leading space: the MTA or the milter encoder adds it');
    t.false(/\r(?!\n)|(?<!\r)\n/.test(f.value), 'CRLF folding only');
    t.true(f.value.split('\r\n').slice(1).every((l) => /^[ \t]/.test(l)), 'folded');
  }
  // AS and AMS fold with CRLF SP, so " i=N;" is in the text: dkimpy finds the AMS by it.
  for (const f of [as, ams]) t.true(f.value.split('\r\n').slice(1).every((l) => l.startsWith(' ') && !l.startsWith('  ')), f.name);
  t.regex(aar.value, /^i=1; mx\.example\.org;\r\n\tspf=pass/);
  t.regex(as.value, /^a=rsa-sha256;\r\n b=[A-Za-z0-9+/]+=*;\r\n cv=none; d=example\.org; i=1; s=arc2026; t=1767261600$/);
  const parsed = parseArcMessageSignature(ams.value);
  if (!parsed.ok) return t.fail(parsed.reason);
  // Configured order, each as often as present, From and Subject once more; nothing absent unless oversigned.
  t.deepEqual(parsed.value.signedHeaders, ['from', 'from', 'to', 'subject', 'subject', 'date', 'message-id', 'mime-version']);
  t.like(parsed.value, { headerCanon: 'relaxed', bodyCanon: 'relaxed', domain: 'example.org', selector: 'arc2026', timestamp: 1767261600 });
  t.like(await verifyChain([...out.fields, ...baseHeaders()], baseBody(), keyDns([key])), { result: 'pass', instances: 1, sealers: ['example.org'] });
});

test('on a passing chain: i=N+1, cv=pass, the seal covers every set', async (t) => {
  const dns = keyDns([key, other]);
  const h = await addHop(baseHeaders(), baseBody(), other, dns);
  const chain = await verifyChain(h, baseBody(), dns);
  const out = await sealHop(h, baseBody(), { key, chain });
  t.like(out, { kind: 'sealed', instance: 2, cv: 'pass' });
  if (out.kind === 'sealed') t.like(await verifyChain([...out.fields, ...h], baseBody(), dns), { result: 'pass', instances: 2, sealers: ['forwarder.test', 'example.org'] });
});

test('on a failed chain: cv=fail, and the seal signs only our own set (§5.1.2)', async (t) => {
  const dns = keyDns([key, other]);
  const h = await addHop(baseHeaders(), baseBody(), other, dns);
  const tampered = Buffer.from('something else\r\n');
  const chain = await verifyChain(h, tampered, dns);
  t.is(chain.result, 'fail');
  const out = await sealHop(h, tampered, { key, chain });
  if (out.kind !== 'sealed') return t.fail();
  t.like(out, { instance: 2, cv: 'fail' });
  const [as, ams, aar] = out.fields as [HeaderField, HeaderField, HeaderField];
  const parsedSeal = parseArcSeal(as.value);
  if (!parsedSeal.ok) return t.fail();
  t.true(verify('sha256', sealHashInput([{ aar, ams, as }]), key.publicKey, parsedSeal.value.signature), 'AS over our set alone');
  // The next validator stops at step 2 — and no one seals on top of it (§5.1 step 1).
  const next = [...out.fields, ...h];
  t.like(await verifyChain(next, tampered, dns), { result: 'fail', reason: 'ARC-Seal i=2 says cv=fail' });
  const again = await sealHop(next, tampered, { key, chain: await verifyChain(next, tampered, dns) });
  t.like(again, { kind: 'skipped', reason: 'sealed-as-failed' });
});

test('a structurally broken chain is sealed as failed above its highest instance', async (t) => {
  const garbage: HeaderField[] = [{ name: 'ARC-Seal', value: ' i=3; cv=pass; a=rsa-sha256; d=x.test; s=s; b=AAAA' }, ...baseHeaders()];
  const chain = await verifyChain(garbage, baseBody(), keyDns([key]));
  t.is(chain.result, 'fail');
  t.like(await sealHop(garbage, baseBody(), { key, chain }), { kind: 'sealed', instance: 4, cv: 'fail' });
});

test('no seal after a temperror, or when 50 instances are taken', async (t) => {
  const h = await addHop(baseHeaders(), baseBody(), other, keyDns([other]));
  t.like(await sealHop(h, baseBody(), { key, chain: { ...none, result: 'temperror', instances: 1, reason: 'dns' } }), { kind: 'skipped', reason: 'chain-temperror' });
  let chain: HeaderField[] = baseHeaders();
  for (let i = 1; i <= 50; i++) {
    const out = await sealHop(chain, baseBody(), { key, chain: i === 1 ? none : { ...none, result: 'pass', instances: i - 1 } });
    if (out.kind !== 'sealed') return t.fail(`hop ${i}`);
    chain = [...out.fields, ...chain];
  }
  const structure = collectArcChain(chain);
  t.is(structure.kind === 'valid' ? structure.sets.length : 0, 50);
  t.like(await verifyChain(chain, baseBody(), keyDns([key])), { result: 'pass', instances: 50 });
  t.like(await sealHop(chain, baseBody(), { key, chain: { ...none, result: 'pass', instances: 50 } }), { kind: 'skipped', reason: 'instance-limit' });
});

test('requests that cannot be right throw ArcError: key type, authserv-id, chain mismatch, forbidden fields', async (t) => {
  const ed = generateKeyPairSync('ed25519');
  const edKey = { ...key, signing: { ...key.signing, algorithm: 'ed25519-sha256' as const, privateKey: ed.privateKey } };
  await t.throwsAsync(sealHop(baseHeaders(), baseBody(), { key: edKey, chain: none }), { instanceOf: ArcError, message: /rsa-sha256 only/ });
  const request = { headers: baseHeaders(), bodyHash: Buffer.alloc(32), authservId: 'mx.example.org', chain: none, key: key.signing, timestamp: 1, signedHeaders: ['from'], oversignedHeaders: [] };
  await t.throwsAsync(seal({ ...request, authenticationResults: 'mx.other.test; spf=pass' }), { instanceOf: ArcError, message: /is for mx\.other\.test/ });
  await t.throwsAsync(seal({ ...request, authenticationResults: 'mx.example.org' }), { instanceOf: ArcError, message: /no results/ });
  const sealed = await addHop(baseHeaders(), baseBody(), other, keyDns([other]));
  await t.throwsAsync(sealHop(sealed, baseBody(), { key, chain: none }), { instanceOf: ArcError, message: /carry ARC fields/ });
  await t.throwsAsync(sealHop(baseHeaders(), baseBody(), { key, chain: { ...none, result: 'pass', instances: 1 } }), { instanceOf: ArcError });
  for (const bad of ['Authentication-Results', 'ARC-Seal', 'arc-message-signature', 'ARC-Authentication-Results']) {
    await t.throwsAsync(sealHop(baseHeaders(), baseBody(), { key, chain: none, signedHeaders: ['from', bad] }), { instanceOf: ArcError, message: /RFC 8617 §4\.1\.2/ }, bad);
  }
  await t.throwsAsync(sealHop(baseHeaders(), baseBody(), { key, chain: none, signedHeaders: ['subject'] }), { instanceOf: ArcError, message: /must cover From/ });
});

test('A-R text folding of either kind becomes CRLF folding; From is listed even when absent', async (t) => {
  const noFrom = baseHeaders().filter((f) => f.name !== 'From');
  const out = await sealHop(noFrom, baseBody(), { key, chain: none, oversignedHeaders: [] });
  if (out.kind !== 'sealed') return t.fail();
  const ams = parseArcMessageSignature(out.fields[1]!.value);
  t.true(ams.ok && ams.value.signedHeaders[0] === 'from');
  t.false(/(?<!\r)\n/.test(out.fields[2]!.value));
});
