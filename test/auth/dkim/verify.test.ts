/**
 * DkimVerifier against a declarative fake DNS, one case per rule of RFC 6376 §6.1 / RFC 8301 /
 * RFC 8463 it applies: each verdict, its reason code, which lookups went out and when.
 */
import test from 'ava';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { BodyHashSet } from '../../../src/auth/dkim/body-hash.ts';
import { KeyParseCache } from '../../../src/auth/dkim/key-lookup.ts';
import { BodyHasher, signMessage } from '../../../src/auth/dkim/sign.ts';
import { DkimVerifier } from '../../../src/auth/dkim/verify.ts';
import { DnsError, type DnsAnswer, type DnsLookup, type RRType } from '../../../src/dns/types.ts';
import { fakeLookup, type FakeName } from '../../support/fake-dns.ts';
import { keyRecord, messageParts, signRaw, TEST_NOW, verifyMessage } from '../../support/dkim-run.ts';
import { splitMessage } from '../../support/raw-message.ts';

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
const rsa1024 = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
const rsa512 = generateKeyPairSync('rsa', { modulusLength: 512 }).privateKey;
const ed = generateKeyPairSync('ed25519').privateKey;

const MSG = Buffer.from(
  'From: Alice <alice@sender.test>\r\nTo: bob@example.net\r\nSubject: hello\r\nDate: Tue, 01 Dec 2026 09:00:00 +0000\r\nMessage-ID: <1@sender.test>\r\n\r\nHello Bob.\r\n\r\nSecond paragraph.\r\n',
  'latin1',
);
const T = Math.floor(TEST_NOW / 1000) - 60;
const tags = (extra = '', d = 'sender.test', s = 'sel', a = 'rsa-sha256') => `v=1; a=${a}; c=relaxed/relaxed; d=${d}; s=${s}; t=${T}; h=from:to:subject:date:message-id${extra ? `; ${extra}` : ''}`;

function zone(records: Record<string, string | string[] | FakeName>): ReturnType<typeof fakeLookup> {
  return fakeLookup(Object.fromEntries(Object.entries(records).map(([k, v]) => [k, typeof v === 'string' ? { TXT: [v] } : Array.isArray(v) ? { TXT: v } : v])));
}
const rsaZone = () => zone({ 'sel._domainkey.sender.test': keyRecord(rsa) });

async function one(raw: Buffer, dns: DnsLookup, o: { minKeyBits?: number; now?: number } = {}) {
  const { checks } = await verifyMessage(raw, { dns, ...o });
  if (checks.length !== 1) throw new Error(`expected one check, got ${checks.length}`);
  return checks[0]!;
}

test('RSA-2048 (SPKI record), relaxed/relaxed: pass with the identifiers for Authentication-Results', async (t) => {
  const raw = signRaw(MSG, tags(), rsa);
  const c = await one(raw, rsaZone());
  t.like(c, { result: 'pass', domain: 'sender.test', selector: 'sel', algorithm: 'rsa-sha256', identity: '@sender.test', keyBits: 2048, partialBody: false, testing: false, reason: 'signature verified' });
  t.is(c.code, undefined);
  t.regex(c.signature!, /^[A-Za-z0-9+/]{300,}={0,2}$/);
});

test('every canonicalisation, and a body streamed one byte at a time', async (t) => {
  for (const c of ['simple/simple', 'simple/relaxed', 'relaxed/simple', 'relaxed/relaxed', 'relaxed', 'simple']) {
    const raw = signRaw(MSG, tags().replace('c=relaxed/relaxed', `c=${c}`), rsa);
    const { checks } = await verifyMessage(raw, { dns: rsaZone(), chunk: 1 });
    t.is(checks[0]?.result, 'pass', c);
  }
  // No c= at all is simple/simple (§3.5).
  t.is((await one(signRaw(MSG, tags().replace('c=relaxed/relaxed; ', ''), rsa), rsaZone())).result, 'pass');
});

test('a PKCS#1 RSAPublicKey record and an Ed25519 (RFC 8463 raw) record both verify', async (t) => {
  t.is((await one(signRaw(MSG, tags(), rsa), zone({ 'sel._domainkey.sender.test': keyRecord(rsa, '', { pkcs1: true }) }))).result, 'pass');
  const c = await one(signRaw(MSG, tags('', 'sender.test', 'ed', 'ed25519-sha256'), ed), zone({ 'ed._domainkey.sender.test': keyRecord(ed) }));
  t.like(c, { result: 'pass', algorithm: 'ed25519-sha256', keyBits: 256 });
});

test('our signer\'s RSA and Ed25519 signatures verify; oversigning makes a prepended Subject or To fail', async (t) => {
  const { headers, body } = splitMessage(MSG);
  const h = new BodyHasher('relaxed');
  h.write(body);
  const sign = (key: KeyObject, selector: string, algorithm: 'rsa-sha256' | 'ed25519-sha256', oversign?: string[]) =>
    signMessage({ key: { id: selector, domain: 'sender.test', selector, algorithm, privateKey: key }, headers, bodyHash: h.digest(), canonicalization: 'relaxed/relaxed', signHeaders: ['from', 'to', 'subject', 'date', 'message-id'], ...(oversign ? { oversignHeaders: oversign } : {}), timestamp: T });
  const dns = zone({ 'r._domainkey.sender.test': keyRecord(rsa), 'e._domainkey.sender.test': keyRecord(ed) });
  const signed = async (oversign?: string[]) => Buffer.concat([Buffer.from(`DKIM-Signature: ${await sign(rsa, 'r', 'rsa-sha256', oversign)}\r\nDKIM-Signature: ${await sign(ed, 'e', 'ed25519-sha256', oversign)}\r\n`, 'latin1'), MSG]);
  const full = await signed(['subject', 'to']);
  t.deepEqual((await verifyMessage(full, { dns })).checks.map((c) => c.result), ['pass', 'pass']);
  for (const extra of ['Subject: Re: hello', 'To: eve@evil.test']) {
    const prepended = Buffer.from(full.toString('latin1').replace('From: Alice', `${extra}\r\nFrom: Alice`), 'latin1');
    t.deepEqual((await verifyMessage(prepended, { dns })).checks.map((c) => c.result), ['fail', 'fail'], `oversigned: ${extra}`);
  }
  // Without oversigning the same prepended Subject keeps both valid — the replay the default closes.
  const plain = await signed();
  const prepended = Buffer.from(plain.toString('latin1').replace('From: Alice', 'Subject: Re: hello\r\nFrom: Alice'), 'latin1');
  t.deepEqual((await verifyMessage(prepended, { dns })).checks.map((c) => c.result), ['pass', 'pass']);
});

test('rsa-sha1 is policy "weak algorithm" and never looked up or verified (RFC 8301 §3.1)', async (t) => {
  const dns = rsaZone();
  const c = await one(signRaw(MSG, tags('', 'sender.test', 'sel', 'rsa-sha1'), rsa), dns);
  t.like(c, { result: 'policy', code: 'weak-algorithm', algorithm: 'rsa-sha1', domain: 'sender.test' });
  t.is(dns.calls.length, 0);
});

test('key size: 512 bits is policy "weak key" at the default 1024; 1024 passes; min_key_bits 2048 refuses 1024', async (t) => {
  const c512 = await one(signRaw(MSG, tags(), rsa512), zone({ 'sel._domainkey.sender.test': keyRecord(rsa512) }));
  t.like(c512, { result: 'policy', code: 'weak-key', keyBits: 512 });
  const dns1024 = zone({ 'sel._domainkey.sender.test': keyRecord(rsa1024) });
  const raw1024 = signRaw(MSG, tags(), rsa1024);
  t.is((await one(raw1024, dns1024)).result, 'pass');
  t.like(await one(raw1024, dns1024, { minKeyBits: 2048 }), { result: 'policy', code: 'weak-key' });
  t.is((await one(signRaw(MSG, tags(), rsa512), zone({ 'sel._domainkey.sender.test': keyRecord(rsa512) }), { minKeyBits: 512 })).result, 'pass');
});

test('key records: revoked, missing, unusable, not for email, wrong k=, h= without sha256 — permerror each', async (t) => {
  const raw = signRaw(MSG, tags(), rsa);
  const cases: Array<[string, FakeName | string, string]> = [
    ['revoked', 'v=DKIM1; k=rsa; p=', 'key-revoked'],
    ['garbage', 'v=DKIM1; k=rsa; p=!!!', 'key-syntax'],
    ['not a key', 'v=spf1 -all', 'key-syntax'],
    ['service', keyRecord(rsa, 's=other'), 'key-syntax'],
    ['k=ed25519 for rsa-sha256', keyRecord(ed), 'key-algorithm'],
    ['h=sha1', keyRecord(rsa, 'h=sha1'), 'key-hash'],
  ];
  for (const [name, record, code] of cases) {
    const c = await one(raw, zone({ 'sel._domainkey.sender.test': record }));
    t.like(c, { result: 'permerror', code }, name);
  }
  t.like(await one(raw, zone({})), { result: 'permerror', code: 'no-key' }, 'NXDOMAIN');
  t.like(await one(raw, zone({ 'sel._domainkey.sender.test': { A: ['192.0.2.1'] } })), { result: 'permerror', code: 'no-key' }, 'NODATA');
  t.is((await one(raw, zone({ 'sel._domainkey.sender.test': keyRecord(rsa, 'h=sha1:sha256; s=email:*') }))).result, 'pass', 'h= and s= lists that allow it');
  // Several records: the usable one is used (§3.6.2.2 leaves the choice to the verifier).
  t.is((await one(raw, zone({ 'sel._domainkey.sender.test': ['v=DKIM1; p=', 'junk', keyRecord(rsa)] }))).result, 'pass');
});

test('DNS failures are temperror, never pass or fail (§6.1.2 step 2)', async (t) => {
  const raw = signRaw(MSG, tags(), rsa);
  for (const error of ['SERVFAIL', 'TIMEOUT', 'REFUSED'] as const) {
    t.like(await one(raw, zone({ 'sel._domainkey.sender.test': { TXT: { error } } })), { result: 'temperror', code: 'key-unavailable' }, error);
  }
  const thrower: DnsLookup = { query: () => Promise.reject(new Error('boom')) };
  t.like(await one(raw, thrower), { result: 'temperror', code: 'key-unavailable' });
  const aborted = new AbortController();
  aborted.abort();
  const abortingDns: DnsLookup = { query: (_n, _t, o) => (o?.signal?.aborted ? Promise.reject(new DnsError('ABORTED', 'aborted')) : Promise.resolve(undefined as never)) };
  const { checks } = await verifyMessage(raw, { dns: abortingDns, signal: aborted.signal });
  t.like(checks[0], { result: 'temperror' });
});

test('key t=y marks testing (the verdict stays); t=s refuses an i= below d= but takes i= at d=', async (t) => {
  const testing = await one(signRaw(MSG, tags(), rsa), zone({ 'sel._domainkey.sender.test': keyRecord(rsa, 't=y') }));
  t.like(testing, { result: 'pass', testing: true });
  const strictZone = zone({ 'sel._domainkey.sender.test': keyRecord(rsa, 't=s:y') });
  t.like(await one(signRaw(MSG, tags('i=alice@mail.sender.test'), rsa), strictZone), { result: 'permerror', code: 'domain-mismatch', identity: 'alice@mail.sender.test' });
  t.like(await one(signRaw(MSG, tags('i=alice@sender.test'), rsa), strictZone), { result: 'pass', identity: 'alice@sender.test', testing: true });
  // Without t=s a subdomain i= is fine (§3.5); outside d= it never is.
  t.like(await one(signRaw(MSG, tags('i=@mail.sender.test'), rsa), rsaZone()), { result: 'pass', identity: '@mail.sender.test' });
  t.like(await one(signRaw(MSG, tags('i=@other.test'), rsa), rsaZone()), { result: 'permerror', code: 'domain-mismatch' });
  t.like(await one(signRaw(MSG, tags('i=@notsender.test'), rsa), rsaZone()), { result: 'permerror', code: 'domain-mismatch' });
  // dkim-quoted-printable in i= (§2.11).
  t.like(await one(signRaw(MSG, tags('i=al=3Dice@sender.test'), rsa), rsaZone()), { result: 'pass', identity: 'al=ice@sender.test' });
});

test('l=: shorter than the body passes with partialBody; equal is a full signature; a body shorter than l= fails', async (t) => {
  const { body } = messageParts(MSG);
  const full = body.length; // relaxed body of this message is its raw body (no WSP runs)
  const partial = await one(signRaw(MSG, tags('l=10'), rsa), rsaZone());
  t.like(partial, { result: 'pass', partialBody: true, bodyLength: 10 });
  t.regex(partial.reason, new RegExp(`leaves ${full - 10} body octets unsigned`));
  t.like(await one(signRaw(MSG, tags(`l=${full}`), rsa), rsaZone()), { result: 'pass', partialBody: false, bodyLength: full });
  t.like(await one(signRaw(MSG, tags('l=0'), rsa), rsaZone()), { result: 'pass', partialBody: true, bodyLength: 0 });
  // Appended text after l=: still pass, still partial — what DMARC must not count.
  const appended = Buffer.concat([signRaw(MSG, tags('l=10'), rsa), Buffer.from('Buy now!\r\n')]);
  t.like(await one(appended, rsaZone()), { result: 'pass', partialBody: true });
  // Truncated in transit: l= now exceeds the body (§3.5 "MUST NOT be larger").
  const signed = signRaw(MSG, tags(`l=${full}`), rsa).toString('latin1');
  const truncated = Buffer.from(signed.replace('Second paragraph.\r\n', ''), 'latin1');
  t.like(await one(truncated, rsaZone()), { result: 'fail', code: 'body-length' });
});

test('x=: in the past is policy "expired" without a lookup; in the future passes; x <= t is permerror', async (t) => {
  const dns = rsaZone();
  t.like(await one(signRaw(MSG, tags(`x=${T + 30}`), rsa), dns), { result: 'policy', code: 'expired' });
  t.is(dns.calls.length, 0);
  t.is((await one(signRaw(MSG, tags(`x=${T + 3600}`), rsa), dns)).result, 'pass');
  t.like(await one(signRaw(MSG, tags(`x=${T}`), rsa), dns), { result: 'permerror', code: 'timestamps' });
  // t= in the future is accepted (§3.5 "MAY ignore"; clocks drift) — docs/inbound.md.
  t.is((await one(signRaw(MSG, tags().replace(`t=${T}`, `t=${T + 86400}`), rsa), dns)).result, 'pass');
});

test('signature syntax: each §6.1.1 PERMFAIL with its code, and the identifiers that could be read', async (t) => {
  const cases: Array<[string, string, string]> = [
    ['no v= (pre-standard)', tags().replace('v=1; ', ''), 'version'],
    ['v=2', tags().replace('v=1', 'v=2'), 'version'],
    ['From not signed', tags().replace('h=from:to', 'h=to'), 'from-not-signed'],
    ['unknown algorithm', tags('', 'sender.test', 'sel', 'rsa-sha512'), 'algorithm'],
    ['unknown canonicalisation', tags().replace('c=relaxed/relaxed', 'c=relaxed/fancy'), 'canonicalization'],
    ['q= without dns/txt', tags('q=http/well-known'), 'query-method'],
    ['l= not a number', tags('l=ten'), 'syntax'],
    ['t= not a number', tags().replace(`t=${T}`, 't=soon'), 'syntax'],
    ['d= not a domain', tags('', 'sender..test'), 'syntax'],
    ['duplicate tag', tags('d=sender.test'), 'syntax'],
  ];
  for (const [name, text, code] of cases) {
    const c = await one(signRaw(MSG, text, rsa), rsaZone());
    t.like(c, { result: 'permerror', code }, name);
  }
  const c = await one(signRaw(MSG, tags('', 'sender.test', 'sel', 'rsa-sha512'), rsa), rsaZone());
  t.like(c, { domain: 'sender.test', selector: 'sel', algorithm: 'rsa-sha512' });
  // A field that is no tag list at all, and one with an empty value.
  const garbage = Buffer.concat([Buffer.from('DKIM-Signature: this is not; a tag=list\r\nDKIM-Signature:\r\n'), MSG]);
  const { checks } = await verifyMessage(garbage, { dns: rsaZone() });
  t.deepEqual(checks.map((x) => [x.result, x.code]), [['permerror', 'syntax'], ['permerror', 'syntax']]);
});

test('tampering: body → body hash, a signed header → signature, a changed b= → signature, an unsigned header → still pass', async (t) => {
  const raw = signRaw(MSG, tags(), rsa).toString('latin1');
  const dns = rsaZone();
  t.like(await one(Buffer.from(raw.replace('Hello Bob.', 'Hello Bob!'), 'latin1'), dns), { result: 'fail', code: 'body-hash', reason: 'body hash did not verify' });
  t.like(await one(Buffer.from(raw.replace('Subject: hello', 'Subject: hullo'), 'latin1'), dns), { result: 'fail', code: 'signature', reason: 'signature did not verify' });
  t.like(await one(Buffer.from(raw.replace(/b=([A-Za-z0-9+/]{10})/, 'b=AAAAAAAAAA'), 'latin1'), dns), { result: 'fail', code: 'signature' });
  t.is((await one(Buffer.from(raw.replace('Date:', 'X-Added: yes\r\nDate:'), 'latin1'), dns)).result, 'pass');
  // A second From appended below (bottom-up selection picks it): the signature fails.
  t.is((await one(Buffer.from(raw.replace('\r\n\r\n', '\r\nFrom: mallory@evil.test\r\n\r\n'), 'latin1'), dns)).result, 'fail');
});

test('h= naming dkim-signature covers the other signature fields, never the one under verification (§3.5)', async (t) => {
  const inner = signRaw(MSG, tags(), rsa);
  // The outer signature signs the inner DKIM-Signature, and once more than it occurs.
  const outer = signRaw(inner, tags().replace('h=from', 'h=dkim-signature:dkim-signature:from'), rsa);
  const { checks } = await verifyMessage(outer, { dns: rsaZone() });
  t.deepEqual(checks.map((c) => c.result), ['pass', 'pass']);
});

test('U-label d= (RFC 8616 §4): looked up and reported as the A-label, hashed as written', async (t) => {
  const raw = signRaw(MSG, tags('', Buffer.from('bücher.test', 'utf8').toString('latin1')), rsa);
  const dns = zone({ 'sel._domainkey.xn--bcher-kva.test': keyRecord(rsa) });
  t.like(await one(raw, dns), { result: 'pass', domain: 'xn--bcher-kva.test', identity: '@xn--bcher-kva.test' });
  t.deepEqual(dns.calls.map((c) => c.name), ['sel._domainkey.xn--bcher-kva.test']);
});

test('every key lookup goes out at start(), in parallel, one per selector and domain', async (t) => {
  const pending: Array<{ name: string; resolve: (a: DnsAnswer) => void }> = [];
  const dns: DnsLookup = {
    query<T extends RRType>(name: string, type: T): Promise<DnsAnswer<T>> {
      return new Promise((resolve) => pending.push({ name, resolve: resolve as (a: DnsAnswer) => void })).then((a) => ({ ...(a as DnsAnswer<T>), type }));
    },
  };
  let raw = signRaw(MSG, tags(), rsa);
  raw = signRaw(raw, tags('', 'sender.test', 'ed', 'ed25519-sha256'), ed);
  raw = signRaw(raw, tags(), rsa); // same key as the first: no second query
  raw = signRaw(raw, tags('', 'other.test'), rsa);
  const { headers, body } = messageParts(raw);
  const v = new DkimVerifier({ dns, keyCache: new KeyParseCache(), now: () => TEST_NOW, minKeyBits: 1024, maxSignatures: 8 });
  const set = new BodyHashSet();
  v.start(headers, set);
  t.deepEqual(pending.map((p) => p.name).sort(), ['ed._domainkey.sender.test', 'sel._domainkey.other.test', 'sel._domainkey.sender.test']);
  set.write(body);
  set.end();
  const answer = (name: string, txt: string): DnsAnswer => ({ name, type: 'TXT', rcode: 'NOERROR', records: [[txt]], ttl: 300, authenticated: false, authoritative: false, cnameChain: [] });
  for (const p of pending) p.resolve(answer(p.name, p.name.startsWith('ed.') ? keyRecord(ed) : keyRecord(rsa)));
  t.deepEqual((await v.finish()).map((c) => c.result), ['pass', 'pass', 'pass', 'pass']);
});

test('the signature cap: the first max_signatures fields are verified, the rest counted as skipped', async (t) => {
  let raw: Buffer = MSG;
  for (let i = 0; i < 5; i++) raw = Buffer.from(signRaw(raw, tags(), rsa));
  const { checks, skipped } = await verifyMessage(raw, { dns: rsaZone(), maxSignatures: 3 });
  t.is(checks.length, 3);
  t.is(skipped, 2);
});

test('finish() never throws: before the body ended it is temperror; unsigned mail gives no checks', async (t) => {
  const raw = signRaw(MSG, tags(), rsa);
  const { headers } = messageParts(raw);
  const v = new DkimVerifier({ dns: rsaZone(), keyCache: new KeyParseCache(), now: () => TEST_NOW, minKeyBits: 1024, maxSignatures: 8 });
  v.start(headers, new BodyHashSet());
  t.like((await v.finish())[0], { result: 'temperror', code: 'internal' });
  // A set that was already written to cannot take new requests: the signature says so, no throw.
  const late = new BodyHashSet();
  late.write(Buffer.from('x'));
  const v2 = new DkimVerifier({ dns: rsaZone(), keyCache: new KeyParseCache(), now: () => TEST_NOW, minKeyBits: 1024, maxSignatures: 8 });
  v2.start(headers, late);
  late.end();
  t.like((await v2.finish())[0], { result: 'temperror', code: 'internal' });
  t.deepEqual((await verifyMessage(MSG, { dns: rsaZone() })).checks, []);
});

test('one parsed key per record text across messages (the process-wide cache hands back the same KeyObject)', async (t) => {
  const cache = new KeyParseCache();
  const dns = rsaZone();
  const raw = signRaw(MSG, tags(), rsa);
  const a = cache.parse(keyRecord(rsa));
  t.is((await verifyMessage(raw, { dns, keyCache: cache })).checks[0]?.result, 'pass');
  t.is(cache.parse(keyRecord(rsa)), a);
});
