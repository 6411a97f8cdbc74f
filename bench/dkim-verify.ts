/**
 * `node bench/dkim-verify.ts [--count N] [--rounds R]`: the cost of DKIM verification alone,
 * one core, no milter — DkimVerifier (src/auth/dkim/) against mailauth 7's dkimVerify on the
 * same messages: the inbound half of the bench corpus (`--count` messages, default 1,000
 * inbound), keys answered from memory (the bench zone) and, for us, a warm KeyParseCache.
 *
 * Prints:
 * - the floor on this machine: SHA-256 GB/s, RSA-2048 and Ed25519 verifies/s with a KeyObject;
 * - body hashing (BodyHashSet, 64 KiB chunks as Postfix sends them) in MB/s, relaxed and simple;
 * - CPU µs per signature with a warm key cache for RSA-2048 and Ed25519 (parse, lookup, header
 *   hash input, crypto — everything but the body);
 * - whole messages: CPU per 1,000 messages and per MB, ours and mailauth's, same input.
 *
 * Not part of `npm test` or `npm run bench`. Profile ours alone with
 * `node --cpu-prof --cpu-prof-dir=bench/results/profiles bench/dkim-verify.ts --no-mailauth`
 * and `node bench/profile-summary.ts bench/results/profiles/*.cpuprofile`.
 */
import { createHash, verify as cryptoVerify, sign as cryptoSign, createPublicKey } from 'node:crypto';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import { BodyHashSet } from '../src/auth/dkim/body-hash.ts';
import { KeyParseCache } from '../src/auth/dkim/key-lookup.ts';
import { DkimVerifier } from '../src/auth/dkim/verify.ts';
import { mailauthResolver } from '../test/support/mailauth-resolver.ts';
import { fakeLookup, type FakeName } from '../test/support/fake-dns.ts';
import { buildCorpus, dkimTxt, ED_SELECTOR, milterFields, RSA_SELECTOR } from './corpus.ts';

const require = createRequire(import.meta.url);
const { dkimVerify } = require('mailauth/lib/dkim/verify.js') as { dkimVerify(m: Buffer, o: object): Promise<{ results: Array<{ status: { result: string } }> }> };

const { values } = parseArgs({ options: { count: { type: 'string' }, rounds: { type: 'string' }, 'no-mailauth': { type: 'boolean' } } });
const inboundCount = Number(values.count ?? 1000);
const rounds = Number(values.rounds ?? 3);

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}
async function measure(fn: () => Promise<void> | void): Promise<number> {
  const t0 = cpuMs();
  await fn();
  return cpuMs() - t0;
}
const line = (s: string) => process.stdout.write(`${s}\n`);

// --------------------------------------------------------------------------- input
const corpus = await buildCorpus({ count: inboundCount * 2 });
const inbound = corpus.messages.filter((m) => m.direction === 'inbound');
const zone: Record<string, FakeName> = {};
for (const k of corpus.keys) {
  zone[`${RSA_SELECTOR}._domainkey.${k.domain}`] = { TXT: [dkimTxt(k.rsa)] };
  zone[`${ED_SELECTOR}._domainkey.${k.domain}`] = { TXT: [dkimTxt(k.ed25519)] };
}
const dns = fakeLookup(zone);

const prepared = inbound.map((m) => ({ m, ...milterFields(m) }));
const totalBytes = prepared.reduce((a, p) => a + p.m.raw.length, 0);
const bodyBytes = prepared.reduce((a, p) => a + p.body.length, 0);
const sigCount = { rsa: 0, ed: 0 };
for (const p of prepared) for (const h of p.headers) if (h.name.toLowerCase() === 'dkim-signature') sigCount[/a=ed25519/.test(h.value) ? 'ed' : 'rsa']++;
line(`input: ${prepared.length} inbound messages, ${(totalBytes / 1048576).toFixed(1)} MiB (bodies ${(bodyBytes / 1048576).toFixed(1)} MiB), ${sigCount.rsa} RSA-2048 + ${sigCount.ed} Ed25519 signatures; ${rounds} rounds, best round reported`);

// --------------------------------------------------------------------------- floor
{
  const buf = Buffer.alloc(64 * 1024 * 1024, 0x61);
  const ms = Math.min(...(await Promise.all([0, 1, 2].map(() => measure(() => void createHash('sha256').update(buf).digest())))));
  const k = corpus.keys[1]!;
  const data = Buffer.alloc(1000, 0x62);
  const rsaPub = createPublicKey(k.rsa);
  const edPub = createPublicKey(k.ed25519);
  const rsaSig = cryptoSign('sha256', data, k.rsa);
  const edSig = cryptoSign(null, data, k.ed25519);
  const n = 20_000;
  const rsaMs = await measure(() => {
    for (let i = 0; i < n; i++) cryptoVerify('sha256', data, rsaPub, rsaSig);
  });
  const edMs = await measure(() => {
    for (let i = 0; i < n; i++) cryptoVerify(null, data, edPub, edSig);
  });
  line(`floor: SHA-256 ${(64 / 1024 / (ms / 1000)).toFixed(2)} GB/s; RSA-2048 verify ${((rsaMs * 1000) / n).toFixed(1)} µs (${Math.round(n / (rsaMs / 1000))}/s); Ed25519 verify ${((edMs * 1000) / n).toFixed(1)} µs (${Math.round(n / (edMs / 1000))}/s) — KeyObject, one core`);
}

// --------------------------------------------------------------------------- body hashing
for (const canon of ['relaxed', 'simple'] as const) {
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    best = Math.min(
      best,
      await measure(() => {
        for (const p of prepared) {
          const set = new BodyHashSet();
          set.request({ canon });
          for (let i = 0; i < p.body.length; i += 65535) set.write(p.body.subarray(i, i + 65535));
          set.end();
        }
      }),
    );
  }
  line(`body hashing (${canon}, 64 KiB chunks): ${(bodyBytes / 1048576 / (best / 1000)).toFixed(0)} MB/s`);
}

// --------------------------------------------------------------------------- per signature, warm cache
const keyCache = new KeyParseCache();
const verifier = () => new DkimVerifier({ dns, keyCache, now: () => Date.UTC(2026, 10, 3), minKeyBits: 1024, maxSignatures: 8 });
for (const alg of ['rsa', 'ed'] as const) {
  // Messages with exactly one signature of this algorithm; an empty body, so what is measured
  // is the signature side: parse, key lookup (memory DNS, cached parse), hash input, crypto.
  const one = prepared.filter((p) => p.headers.filter((h) => h.name.toLowerCase() === 'dkim-signature').length === 1 && (alg === 'ed') === p.headers.some((h) => /a=ed25519/.test(h.value)));
  const run = async () => {
    for (const p of one) {
      const v = verifier();
      const set = new BodyHashSet();
      v.start(p.headers, set);
      set.end();
      await v.finish();
    }
  };
  await run(); // warm the key cache and the JIT
  let best = Infinity;
  for (let r = 0; r < rounds; r++) best = Math.min(best, await measure(run));
  line(`per signature, ${alg === 'rsa' ? 'RSA-2048' : 'Ed25519 '} (warm key cache, body excluded): ${((best * 1000) / one.length).toFixed(1)} µs CPU over ${one.length} signatures`);
}

// --------------------------------------------------------------------------- whole messages
async function ours(): Promise<Map<string, number>> {
  const tally = new Map<string, number>();
  for (const p of prepared) {
    const v = verifier();
    const set = new BodyHashSet();
    v.start(p.headers, set);
    for (let i = 0; i < p.body.length; i += 65535) set.write(p.body.subarray(i, i + 65535));
    set.end();
    for (const c of await v.finish()) tally.set(c.result, (tally.get(c.result) ?? 0) + 1);
  }
  return tally;
}
const resolver = mailauthResolver(dns);
async function theirs(): Promise<Map<string, number>> {
  const tally = new Map<string, number>();
  for (const p of prepared) {
    const r = await dkimVerify(p.m.raw, { resolver, strict: true, curTime: new Date(Date.UTC(2026, 10, 3)) });
    for (const x of r.results) tally.set(x.status.result, (tally.get(x.status.result) ?? 0) + 1);
  }
  return tally;
}
const contenders = values['no-mailauth'] ? ([['DkimVerifier', ours]] as const) : ([['DkimVerifier', ours], ['mailauth dkimVerify (strict)', theirs]] as const);
for (const [name, fn] of contenders) {
  let tally = await fn(); // warm-up
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    let t: Map<string, number> = new Map();
    best = Math.min(best, await measure(async () => void (t = await fn())));
    tally = t;
  }
  line(`${name}: ${(best / prepared.length).toFixed(3)} CPU s per 1,000 messages (${(best / (totalBytes / 1048576)).toFixed(2)} ms/MiB); verdicts ${JSON.stringify(Object.fromEntries(tally))}`);
}
