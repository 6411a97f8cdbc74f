/**
 * ArcVerifier on chains our sealer made: verdicts, oldest-pass, the sealers and hop results
 * kept for policy, DNS failures as temperror (never fail, never pass), missing or unusable
 * keys as fail, lookups started at once and shared, and nothing thrown out of finish().
 */
import test from 'ava';
import { createHash, sign } from 'node:crypto';
import { ArcVerifier } from '../../../src/auth/arc/verify.ts';
import { budgetedLookup } from '../../../src/auth/dns-budget.ts';
import { BodyHashSet } from '../../../src/auth/dkim/body-hash.ts';
import { headerHashInput, selectSignedFields } from '../../../src/auth/dkim/header-hash.ts';
import { KeyParseCache } from '../../../src/auth/dkim/key-lookup.ts';
import type { HeaderField } from '../../../src/mail/header.ts';
import { addHop, baseBody, baseHeaders, keyDns, rsaKey, verifyChain } from './chain-builder.ts';

const k1 = rsaKey('forwarder.test', 'arc1');
const k2 = rsaKey('lists.example.org', 'seal', 1024, 1);
const k3 = rsaKey('relay.example.net', 's2026', 1024, 2);
const dns = () => keyDns([k1, k2, k3]);

async function threeHops(): Promise<HeaderField[]> {
  const d = dns();
  let h = await addHop(baseHeaders(), baseBody(), k1, d);
  h = await addHop(h, baseBody(), k2, d);
  return addHop(h, baseBody(), k3, d);
}

test('an unsealed message is none: no DNS query, no body hash', async (t) => {
  const d = dns();
  const set = new BodyHashSet();
  const v = new ArcVerifier({ dns: d, keyCache: new KeyParseCache(), now: Date.now, minKeyBits: 1024 });
  v.start(baseHeaders(), set);
  t.true(set.empty);
  set.end();
  t.like(await v.finish(), { result: 'none', instances: 0, sealers: [], hopResults: [] });
  t.is(d.calls.length, 0);
});

test('three hops: pass, oldest-pass 1, the sealers and each hop\'s results in instance order', async (t) => {
  const h = await threeHops();
  const r = await verifyChain(h, baseBody(), dns());
  t.like(r, { result: 'pass', instances: 3, oldestPass: 1 });
  t.deepEqual(r.sealers, ['forwarder.test', 'lists.example.org', 'relay.example.net']);
  t.is(r.hopResults.length, 3);
  // Unfolded (RFC 5322 §2.2.3), otherwise as the hop wrote it.
  t.regex(r.hopResults[1]!, /^mx\.lists\.example\.org;\tspf=pass smtp\.mailfrom=origin\.test;\tdkim=pass/);
  t.true(r.hopResults[0]!.endsWith('arc=none'));
  t.true(r.hopResults[2]!.endsWith('arc=pass'));
});

test('a body changed after the last seal fails (AMS of N); changed between hops lowers oldest-pass', async (t) => {
  const d = dns();
  t.like(await verifyChain(await threeHops(), Buffer.from('Hello,\r\n\r\nthis is a changed test.\r\n'), d), { result: 'fail', reason: 'AMS i=3: body hash does not match (bh=)' });
  // Hop 1 sealed the original; a footer was added before hops 2 and 3 sealed.
  // Hop 2 validates what it received (pass), then adds a footer and seals with cv=pass.
  let h = await addHop(baseHeaders(), baseBody(), k1, d);
  const footed = Buffer.concat([baseBody(), Buffer.from('-- \r\nlist footer\r\n')]);
  h = await addHop(h, baseBody(), k2, d, footed);
  h = await addHop(h, footed, k3, d);
  t.like(await verifyChain(h, footed, d), { result: 'pass', instances: 3, oldestPass: 2 });
});

test('a signed header changed after sealing fails; an unsigned one added does not matter', async (t) => {
  const h = await threeHops();
  const changed = h.map((f) => (f.name === 'Subject' ? { ...f, value: ' [list] Hello there' } : f));
  t.like(await verifyChain(changed, baseBody(), dns()), { result: 'fail', reason: 'AMS i=3: signature did not verify' });
  t.like(await verifyChain([{ name: 'Received', value: ' by next.hop' }, { name: 'X-Spam', value: ' no' }, ...h], baseBody(), dns()), { result: 'pass' });
  // Subject is oversigned: a second one on top breaks the AMS.
  t.like(await verifyChain([{ name: 'Subject', value: ' second' }, ...h], baseBody(), dns()), { result: 'fail' });
});

test('a seal that does not verify fails the chain, however good the AMS', async (t) => {
  const h = await threeHops();
  // Change hop 1's AAR: AS 1, 2, 3 all cover it; AMS 3 does not.
  const forged = h.map((f) => (f.name === 'ARC-Authentication-Results' && f.value.startsWith('i=1;') ? { ...f, value: f.value.replace('dmarc=pass', 'dmarc=fail') } : f));
  const r = await verifyChain(forged, baseBody(), dns());
  t.is(r.result, 'fail');
  t.regex(r.reason, /^AS i=3: signature did not verify/);
});

test('DNS failure on a key lookup is temperror, never fail or pass (SERVFAIL, timeout, budget spent, aborted)', async (t) => {
  const h = await threeHops();
  for (const error of ['SERVFAIL', 'TIMEOUT', 'REFUSED'] as const) {
    const r = await verifyChain(h, baseBody(), keyDns([k1, k3], { [k2.name]: { TXT: { error } } }));
    t.is(r.result, 'temperror', error);
    t.regex(r.reason, new RegExp(`AS i=2: key lookup seal._domainkey.lists.example.org: ${error}`));
  }
  const budget = budgetedLookup(dns(), { timeMs: 10_000, maxQueries: 2 });
  t.like(await verifyChain(h, baseBody(), budget), { result: 'temperror' });
  budget.dispose();
  const c = new AbortController();
  c.abort();
  const aborted = budgetedLookup(dns(), { timeMs: 10_000, maxQueries: 50 }, { signal: c.signal });
  t.like(await verifyChain(h, baseBody(), aborted, { signal: c.signal }), { result: 'temperror' });
  aborted.dispose();
});

test('a definite failure beats a temperror elsewhere in the chain', async (t) => {
  const h = await threeHops();
  const changed = h.map((f) => (f.name === 'Subject' ? { ...f, value: ' changed' } : f));
  const r = await verifyChain(changed, baseBody(), keyDns([k2, k3], { [k1.name]: { TXT: { error: 'SERVFAIL' } } }));
  t.like(r, { result: 'fail', reason: 'AMS i=3: signature did not verify' });
});

test('no key, a revoked key, a short key, a key for another hash or type: fail', async (t) => {
  const h = await addHop(baseHeaders(), baseBody(), k1, dns());
  const only = (entry: Parameters<typeof keyDns>[1]) => verifyChain(h, baseBody(), keyDns([], entry));
  t.like(await only({}), { result: 'fail', reason: `AMS i=1: no key at ${k1.name} (NXDOMAIN)` });
  t.like(await only({ [k1.name]: { TXT: ['v=DKIM1; k=rsa; p='] } }), { result: 'fail', reason: 'AMS i=1: key revoked (empty p=)' });
  t.like(await only({ [k1.name]: { TXT: [`${k1.record.replace('k=rsa;', 'k=rsa; h=sha1;')}`] } }), { result: 'fail', reason: 'AMS i=1: key h=sha1 excludes sha256' });
  t.like(await only({ [k1.name]: { TXT: ['v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo='] } }), { result: 'fail', reason: 'AMS i=1: key is ed25519, not rsa' });
  t.like(await only({ [k1.name]: { TXT: [rsaKey('x.test', 'y', 1024, 3).record] } }), { result: 'fail', reason: 'AMS i=1: signature did not verify' });
  const short = rsaKey('forwarder.test', 'arc1', 768);
  const h768 = await addHop(baseHeaders(), baseBody(), short, keyDns([short]));
  t.like(await verifyChain(h768, baseBody(), keyDns([short])), { result: 'fail', reason: 'AMS i=1: 768-bit key is below the 1024-bit minimum' });
  t.like(await verifyChain(h768, baseBody(), keyDns([short]), { minKeyBits: 768 }), { result: 'pass' });
});

test('key lookups start at end of headers, all at once, one per distinct key', async (t) => {
  const d = dns();
  const h = await threeHops();
  const before = d.calls.length;
  const v = new ArcVerifier({ dns: d, keyCache: new KeyParseCache(), now: Date.now, minKeyBits: 1024 });
  const set = new BodyHashSet();
  v.start(h, set);
  // Three sealers (each signs its AS and AMS with one key): three queries, before any body.
  t.deepEqual(d.calls.slice(before).map((c) => c.name).sort(), [k1.name, k2.name, k3.name].sort());
  set.write(baseBody());
  set.end();
  t.like(await v.finish(), { result: 'pass' });
  t.is(d.calls.length, before + 3);
});

test('structure failures need no DNS: a duplicated or missing field, a gap, cv=fail on top, cv=pass on i=1', async (t) => {
  const h = await threeHops();
  const d = dns();
  const aar2 = h.find((f) => f.name === 'ARC-Authentication-Results' && f.value.startsWith('i=2;'))!;
  t.like(await verifyChain([aar2, ...h], baseBody(), d), { result: 'fail', reason: '2 ARC-Authentication-Results fields for i=2' });
  t.like(await verifyChain(h.filter((f) => f !== aar2), baseBody(), d), { result: 'fail', reason: 'no ARC-Authentication-Results for i=2' });
  t.like(await verifyChain(h.filter((f) => !/^(i=2;|.*\bi=2;)/s.test(f.value.replace(/\s+/g, ' ')) || !f.name.startsWith('ARC')), baseBody(), d), { result: 'fail', reason: 'no ARC Set i=2 (instances must run 1..3 without gaps)' });
  const failTop = h.map((f, k) => (k === 0 ? { ...f, value: f.value.replace('cv=pass', 'cv=fail') } : f));
  t.like(await verifyChain(failTop, baseBody(), d), { result: 'fail', reason: 'ARC-Seal i=3 says cv=fail' });
  const oneHop = await addHop(baseHeaders(), baseBody(), k1, dns());
  const passOnFirst = oneHop.map((f) => (f.name === 'ARC-Seal' ? { ...f, value: f.value.replace('cv=none', 'cv=pass') } : f));
  t.like(await verifyChain(passOnFirst, baseBody(), d), { result: 'fail', reason: 'ARC-Seal i=1 says cv=pass (none required)' });
  t.is(d.calls.length, 0);
});

test('finish() never throws: misuse and internal errors are temperror', async (t) => {
  const v = new ArcVerifier({ dns: dns(), keyCache: new KeyParseCache(), now: Date.now, minKeyBits: 1024 });
  t.like(await v.finish(), { result: 'temperror' });
  const ended = new BodyHashSet();
  ended.end();
  const w = new ArcVerifier({ dns: dns(), keyCache: new KeyParseCache(), now: Date.now, minKeyBits: 1024 });
  w.start(await threeHops(), ended); // registering a body hash on an ended set throws inside
  t.like(await w.finish(), { result: 'temperror' });
  w.start(baseHeaders(), new BodyHashSet());
  t.like(await w.finish(), { result: 'temperror', reason: 'ARC verifier started twice' });
});

/** An AMS we sign by hand, for the tags our sealer never writes (l=, x=). */
function handAms(headers: HeaderField[], tags: string): HeaderField[] {
  const unsigned: HeaderField = { name: 'ARC-Message-Signature', value: ` i=1; a=rsa-sha256; c=relaxed/relaxed; d=${k1.signing.domain}; s=${k1.signing.selector}; h=from:subject; ${tags}; b=` };
  const sig = sign('sha256', headerHashInput(selectSignedFields(headers, ['from', 'subject']), unsigned, 'relaxed'), k1.signing.privateKey).toString('base64');
  return headers.map((f) => (f.name === 'ARC-Message-Signature' ? { ...unsigned, value: `${unsigned.value}${sig}` } : f));
}

test('an AMS whose l= leaves body octets unsigned, or whose x= has passed, does not validate', async (t) => {
  const h = await addHop(baseHeaders(), baseBody(), k1, dns());
  const relaxedBody = 'Hello,\r\n\r\nthis is a test.\r\n';
  const bh = (s: string) => createHash('sha256').update(s).digest('base64');
  // l= covering all of it passes the AMS (the AS no longer does: it signed the original AMS) — check the AMS alone via the reason.
  const whole = handAms(h, `l=${relaxedBody.length}; bh=${bh(relaxedBody)}`);
  t.regex((await verifyChain(whole, baseBody(), dns())).reason, /^AS i=1/);
  const part = handAms(h, `l=8; bh=${bh(relaxedBody.slice(0, 8))}`);
  t.like(await verifyChain(part, baseBody(), dns()), { result: 'fail', reason: `AMS i=1: l=8 leaves ${relaxedBody.length - 8} body octets unsigned` });
  const expired = handAms(h, `t=1000; x=2000; bh=${bh(relaxedBody)}`);
  t.like(await verifyChain(expired, baseBody(), dns()), { result: 'fail', reason: 'AMS i=1: signature expired (x=2000)' });
});

test('a chain needing more than 10 distinct keys fails without a single lookup (the DNS budget is shared)', async (t) => {
  const keys = Array.from({ length: 11 }, (_, i) => rsaKey(`hop${i}.test`, 'arc'));
  const d = keyDns(keys);
  let h = baseHeaders();
  for (const k of keys.slice(0, 10)) h = await addHop(h, baseBody(), k, d);
  t.like(await verifyChain(h, baseBody(), d), { result: 'pass', instances: 10 });
  h = await addHop(h, baseBody(), keys[10]!, d);
  const before = d.calls.length;
  t.like(await verifyChain(h, baseBody(), d), { result: 'fail', instances: 11, reason: 'the chain needs 11 distinct keys (at most 10 are looked up)' });
  t.is(d.calls.length, before);
});
