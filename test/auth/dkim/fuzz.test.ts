/**
 * Fuzzing the DKIM parsers and the verifier with seeded random input (test/support/prng.ts),
 * bounded in count and time: tag lists, key records, DKIM-Signature fields, and whole
 * messages whose signature field or key record was mutated. No exception may escape; every
 * verdict is a definite one from the closed lists; a mutation passes only when it provably
 * changed nothing that is signed (same canonical hash input, same b= octets, same key).
 */
import test from 'ava';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { canonicalHeader } from '../../../src/auth/dkim/canonicalize.ts';
import { withoutSignatureValue } from '../../../src/auth/dkim/header-hash.ts';
import { parseKeyRecord } from '../../../src/auth/dkim/key-record.ts';
import { KeyParseCache } from '../../../src/auth/dkim/key-lookup.ts';
import { parseDkimSignature } from '../../../src/auth/dkim/signature.ts';
import { compact, parseTagList } from '../../../src/auth/dkim/tags.ts';
import type { DkimReasonCode } from '../../../src/auth/results.ts';
import { fakeLookup } from '../../support/fake-dns.ts';
import { keyRecord, messageParts, signRaw, TEST_NOW, verifyMessage } from '../../support/dkim-run.ts';
import { prng } from '../../support/prng.ts';

const CODES: readonly DkimReasonCode[] = [
  'syntax', 'version', 'algorithm', 'canonicalization', 'from-not-signed', 'domain-mismatch', 'query-method', 'timestamps',
  'no-key', 'key-revoked', 'key-syntax', 'key-algorithm', 'key-hash', 'weak-algorithm', 'weak-key', 'expired',
  'body-length', 'body-hash', 'signature', 'key-unavailable', 'internal',
];
const PARSE_CODES = new Set<DkimReasonCode>(['syntax', 'version', 'algorithm', 'canonicalization', 'from-not-signed', 'domain-mismatch', 'query-method', 'timestamps']);

/** Stop after `count` rounds or `ms` milliseconds, whichever comes first. */
function rounds(count: number, ms: number): () => boolean {
  const end = performance.now() + ms;
  let i = 0;
  return () => i++ < count && performance.now() < end;
}

const ALPHABET = ['a', 'b', 'v', 'h', 'd', 's', 'Z', '_', '0', '9', '=', '=', ';', ';', ' ', '\t', '\r\n ', '\n\t', '\r', '\n', ':', '@', '.', '-', '/', '+', '\x00', '\x7f', '\xe9', '\xc3\xbc', '"', ','];

function randomText(rnd: () => number, max: number): string {
  let s = '';
  const n = Math.floor(rnd() * max);
  for (let i = 0; i < n; i++) s += ALPHABET[Math.floor(rnd() * ALPHABET.length)];
  return s;
}

/** Insert, delete, replace or duplicate a few spans of `text`. */
function mutate(rnd: () => number, text: string): string {
  let s = text;
  const edits = 1 + Math.floor(rnd() * 3);
  for (let e = 0; e < edits; e++) {
    const at = Math.floor(rnd() * (s.length + 1));
    const len = Math.floor(rnd() * 6);
    const op = rnd();
    if (op < 0.3) s = s.slice(0, at) + randomText(rnd, 4) + s.slice(at);
    else if (op < 0.55) s = s.slice(0, at) + s.slice(at + len);
    else if (op < 0.8) s = s.slice(0, at) + ALPHABET[Math.floor(rnd() * ALPHABET.length)] + s.slice(at + 1);
    else s = s.slice(0, at) + s.slice(at, at + len * 3) + s.slice(at);
  }
  return s;
}

test('tag lists: random and mutated text never throws; what parses obeys the grammar', (t) => {
  const rnd = prng(3_2_0);
  const seeds = ['v=1; a=rsa-sha256; d=example.test; s=sel; h=from:to; bh=abc=; b=de\r\n f', 'v=DKIM1; k=ed25519; p=abcd'];
  let parsed = 0;
  for (const more = rounds(20_000, 4000); more(); ) {
    const text = rnd() < 0.5 ? randomText(rnd, 60) : mutate(rnd, seeds[Math.floor(rnd() * seeds.length)]!);
    for (const utf8 of [false, true]) {
      const r = parseTagList(text, { utf8 });
      if (!r.ok) {
        t.true(r.reason.length > 0);
        continue;
      }
      parsed++;
      for (const [name, value] of r.tags) {
        if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(name)) t.fail(`name ${JSON.stringify(name)} from ${JSON.stringify(text)}`);
        if (value.includes(';') || /^[ \t\r\n]|[ \t\r\n]$/.test(value) || /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/.test(value)) t.fail(`value ${JSON.stringify(value)} from ${JSON.stringify(text)}`);
        if (!utf8 && /[\x80-\xff]/.test(value)) t.fail(`8-bit value without utf8 from ${JSON.stringify(text)}`);
      }
    }
  }
  t.log(`${parsed} of the inputs parsed`);
  t.true(parsed > 100, 'the fuzzer reaches valid lists too');
});

test('DKIM-Signature parser: random and mutated fields never throw; refusals carry a parser code', (t) => {
  const rnd = prng(6376);
  const seed = 'v=1; a=rsa-sha256; c=relaxed/simple; d=example.test; s=sel; t=1700000000; x=1800000000; l=12; i=a@sub.example.test; q=dns/txt; h=from:to:subject; bh=MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI=; b=YWJjZA==';
  let ok = 0;
  for (const more = rounds(20_000, 4000); more(); ) {
    const value = ` ${rnd() < 0.15 ? randomText(rnd, 80) : mutate(rnd, seed)}`;
    const r = parseDkimSignature({ name: 'DKIM-Signature', value });
    if (r.ok) {
      ok++;
      const s = r.signature;
      if (!s.signedHeaders.includes('from') || !(s.identityDomain === s.domain || s.identityDomain.endsWith(`.${s.domain}`)) || s.signature.length === 0) t.fail(`inconsistent parse of ${JSON.stringify(value)}`);
      if (s.timestamp !== undefined && s.expiration !== undefined && s.expiration <= s.timestamp) t.fail(`x<=t accepted: ${JSON.stringify(value)}`);
    } else if (!PARSE_CODES.has(r.code)) t.fail(`code ${r.code} from the parser`);
  }
  t.log(`${ok} mutated fields still parsed`);
  t.true(ok > 50);
});

test('key records: random and mutated records never throw; the result is key, revoked or invalid', (t) => {
  const rnd = prng(8463);
  const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
  const ed = generateKeyPairSync('ed25519').privateKey;
  const seeds = [keyRecord(rsa, 't=s:y; h=sha256; s=email'), keyRecord(rsa, '', { pkcs1: true }), keyRecord(ed)];
  const kinds = { key: 0, revoked: 0, invalid: 0 };
  for (const more = rounds(8000, 4000); more(); ) {
    const text = rnd() < 0.1 ? randomText(rnd, 60) : mutate(rnd, seeds[Math.floor(rnd() * seeds.length)]!);
    const r = parseKeyRecord(text);
    kinds[r.kind]++;
    if (r.kind === 'key' && !(r.key.type === 'rsa' || r.key.type === 'ed25519')) t.fail('unknown key type');
  }
  t.log(JSON.stringify(kinds));
  t.true(kinds.key > 0 && kinds.invalid > 0);
});

/** What a signature field contributes to its own hash: its canonical form without b=, and b='s octets. */
function signedForm(value: string): string {
  return canonicalHeader('DKIM-Signature', withoutSignatureValue(value), 'relaxed');
}
function bOctets(value: string): string {
  const r = parseTagList(value, { utf8: true });
  return r.ok ? Buffer.from(compact(r.tags.get('b') ?? ''), 'base64').toString('hex') : '';
}

test('verifier over mutated signature fields and key records: definite verdicts, and pass only when nothing signed changed', async (t) => {
  const rnd = prng(8301);
  const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
  const ed = generateKeyPairSync('ed25519').privateKey;
  const msg = Buffer.from('From: a@sender.test\r\nTo: b@example.net\r\nSubject: fuzz\r\n\r\nbody line\r\n', 'latin1');
  const T = Math.floor(TEST_NOW / 1000) - 10;
  const signed = [
    { raw: signRaw(msg, `v=1; a=rsa-sha256; c=relaxed/relaxed; d=sender.test; s=r; t=${T}; x=${T + 999}; h=from:to:subject`, rsa), key: rsa },
    { raw: signRaw(msg, `v=1; a=ed25519-sha256; c=relaxed/simple; d=sender.test; s=e; t=${T}; i=a@sender.test; h=from:subject`, ed), key: ed },
  ];
  const records = { r: keyRecord(rsa), e: keyRecord(ed) };
  const cache = new KeyParseCache();
  const results = new Map<string, number>();
  for (const more = rounds(3000, 8000); more(); ) {
    const which = rnd() < 0.5 ? 0 : 1;
    const { raw, key } = signed[which]!;
    const { headers } = messageParts(raw);
    const original = headers[0]!.value;
    const mutateKey = rnd() < 0.3;
    const value = mutateKey ? original : mutate(rnd, original);
    const selector = which === 0 ? 'r' : 'e';
    const record = mutateKey ? mutate(rnd, records[selector]) : records[selector];
    const text = raw.toString('latin1');
    const mutated = Buffer.from(`DKIM-Signature:${value}${text.slice(text.indexOf('\r\nFrom:'))}`, 'latin1');
    const dns = fakeLookup({ [`${selector}._domainkey.sender.test`]: { TXT: [record] } });
    let checks;
    try {
      checks = (await verifyMessage(mutated, { dns, keyCache: cache })).checks;
    } catch (err) {
      t.fail(`threw ${(err as Error).message} on ${JSON.stringify(value)}`);
      continue;
    }
    // A mutation can create a second field (an inserted CRLF + text): judge the first one.
    const c = checks[0];
    if (!c) {
      t.fail(`no check for ${JSON.stringify(value)}`);
      continue;
    }
    results.set(c.result, (results.get(c.result) ?? 0) + 1);
    if (c.result !== 'pass' && (!c.code || !CODES.includes(c.code))) t.fail(`${c.result} without a known code`);
    if (c.result === 'pass') {
      const parsedKey = parseKeyRecord(record);
      const sameKey = parsedKey.kind === 'key' && parsedKey.key.key.equals(createPublicKey(key));
      if (!sameKey || signedForm(value) !== signedForm(original) || bOctets(value) !== bOctets(original)) {
        t.fail(`pass after a mutation that changed what is signed: ${JSON.stringify(value)} / ${JSON.stringify(record)}`);
      }
    }
  }
  t.log(JSON.stringify(Object.fromEntries(results)));
  t.true((results.get('permerror') ?? 0) > 0 && (results.get('fail') ?? 0) > 0);
});
