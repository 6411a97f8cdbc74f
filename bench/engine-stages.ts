/**
 * `node bench/engine-stages.ts [--count N] [--rounds R]`: the authentication engine's CPU cost
 * per message and per stage, in process, one core, no milter — over the inbound half of the
 * bench corpus (`--count` inbound messages, default 400), DNS answered by our real caching
 * resolver (src/dns/resolver.ts) kept warm from an in-process transport that serves the bench
 * zones (bench/dns.ts) as wire-format replies, so every lookup is a cache hit as in the
 * bench's warm cells. Not a test; nothing here runs in `npm test` or `npm run bench`.
 *
 * Stages, each over every message, best of R rounds, CPU (user+system) of this process:
 * - SPF: `checkSpf` as the engine calls it (per-message budget, check, dispose);
 * - iprev: `checkIprev` (PTR + forward lookup);
 * - DKIM signatures: `DkimVerifier` start/finish with the body left out — tag parsing, key
 *   lookup and the parsed-key cache, header canonicalisation and hash, the RSA/Ed25519
 *   verify (the body-hash comparison then fails; its cost is in the next line);
 * - of which RSA-2048 / Ed25519 verify: the corpus's signature counts × one `crypto.verify`
 *   with a KeyObject on this machine (the floor of that stage);
 * - DKIM body hashing: one `BodyHashSet` per message with the canonicalisations its
 *   signatures ask for, the body in 65,535-octet chunks (as Postfix sends it);
 * - ARC: `ArcVerifier` (the corpus is unsealed: arc=none);
 * - authors: the From field parsed (`authorsOf`);
 * - DMARC: `DmarcDiscovery` prefetch + check over the message's actual SPF and DKIM results;
 * - Authentication-Results: the typed model and its rendering;
 * - the whole engine: `MessageAuthenticator` from MAIL FROM to finish(iprev), A-R rendered.
 *
 * Profile it: `node --cpu-prof --cpu-prof-dir=bench/results/profiles bench/engine-stages.ts`.
 * `--heap-sample`: also what the whole engine allocates, by function (V8's sampling heap
 * profiler over three passes; GC pressure is what a capped young generation pays for).
 */
import { createPublicKey, sign as cryptoSign, verify as cryptoVerify } from 'node:crypto';
import { parseArgs } from 'node:util';
import * as dnsPacket from 'dns-packet';
import { authenticationResults } from '../src/auth/authentication-results.ts';
import { ArcVerifier } from '../src/auth/arc/verify.ts';
import { budgetedLookup } from '../src/auth/dns-budget.ts';
import { BodyHashSet } from '../src/auth/dkim/body-hash.ts';
import { KeyParseCache } from '../src/auth/dkim/key-lookup.ts';
import { DkimVerifier } from '../src/auth/dkim/verify.ts';
import { DmarcDiscovery } from '../src/auth/dmarc/discovery.ts';
import { checkIprev } from '../src/auth/iprev/check.ts';

import { MessageAuthenticator, type Engine, type MessageResult } from '../src/auth/session.ts';
import { checkSpf } from '../src/auth/spf/check.ts';
import { createResolver } from '../src/dns/resolver.ts';
import type { DnsTransport } from '../src/dns/transport.ts';
import { renderAuthenticationResults } from '../src/mail/auth-results.ts';
import { authorsOf } from '../src/mail/author.ts';
import { AUTHSERV_ID, buildCorpus, milterFields, type BenchMessage } from './corpus.ts';
import { benchZones } from './dns.ts';
import { sampleHeap } from './heap-sample.ts';

const { values } = parseArgs({ options: { count: { type: 'string' }, rounds: { type: 'string' }, 'heap-sample': { type: 'boolean' } } });
const inboundCount = Number(values.count ?? 400);
const rounds = Number(values.rounds ?? 5);
const line = (s: string) => process.stdout.write(`${s}\n`);

// --------------------------------------------------------------------------- DNS: the bench zones, from our resolver's cache
type Rr = { type: string; data: unknown };
const records = new Map<string, Rr[]>();
const corpus = await buildCorpus({ count: inboundCount * 2 });
for (const [zone, text] of benchZones(corpus.keys, '127.77.0.53')) {
  let origin = zone.replace(/\.$/, '');
  for (const raw of text.split('\n')) {
    const l = raw.trim();
    if (!l) continue;
    if (l.startsWith('$ORIGIN')) {
      origin = l.split(/\s+/)[1]!.replace(/\.$/, '');
      continue;
    }
    if (l.startsWith('$')) continue;
    const m = /^(\S+)\s+(?:\d+\s+)?(?:IN\s+)?(SOA|NS|A|AAAA|MX|TXT|PTR)\s+(.*)$/.exec(l);
    if (!m) continue;
    const [, owner, type, rdata] = m as unknown as [string, string, string, string];
    const name = (owner === '@' ? origin : owner.endsWith('.') ? owner.slice(0, -1) : `${owner}.${origin}`).toLowerCase();
    let data: unknown;
    if (type === 'TXT') data = [...rdata.matchAll(/"([^"]*)"/g)].map((x) => x[1]!);
    else if (type === 'MX') {
      const [pref, host] = rdata.split(/\s+/);
      data = { preference: Number(pref), exchange: host!.replace(/\.$/, '') };
    } else if (type === 'PTR' || type === 'NS') data = rdata.replace(/\.$/, '');
    else if (type === 'A' || type === 'AAAA') data = rdata;
    else continue;
    records.set(name, [...(records.get(name) ?? []), { type, data }]);
  }
}
const transport: DnsTransport = async (_server, request) => {
  const q = dnsPacket.decode(request);
  const question = q.questions![0]!;
  const name = question.name.toLowerCase();
  const rrs = records.get(name);
  const answers = (rrs ?? []).filter((r) => r.type === question.type).map((r) => ({ name, type: r.type, class: 'IN', ttl: 86400, data: r.data }) as dnsPacket.Answer);
  const soa = { name: 'example', type: 'SOA', class: 'IN', ttl: 86400, data: { mname: 'ns.example', rname: 'h.example', serial: 1, refresh: 1, retry: 1, expire: 1, minimum: 86400 } } as dnsPacket.Answer;
  // Names below an existing name are empty non-terminals (NODATA), not NXDOMAIN (RFC 8020).
  const exists = rrs !== undefined || [...records.keys()].some((k) => k.endsWith(`.${name}`));
  return dnsPacket.encode({ type: 'response', id: q.id, flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE, rcode: exists ? 'NOERROR' : 'NXDOMAIN', questions: q.questions, answers, authorities: answers.length ? [] : [soa] } as dnsPacket.Packet);
};
const resolver = createResolver({ servers: [{ host: '127.0.0.1', port: 53 }], transport, maxTtlSec: 86400, negativeMaxTtlSec: 86400 });
const NOW = Date.UTC(2026, 10, 3);
const now = () => NOW;

// --------------------------------------------------------------------------- input
const prepared = corpus.messages.filter((m) => m.direction === 'inbound').map((m) => {
  const p = milterFields(m);
  const sigs = p.headers.filter((h) => h.name.toLowerCase() === 'dkim-signature').map((h) => h.value.replace(/\s+/g, ''));
  const canons = new Set(sigs.map((s) => (/;c=[a-z]+\/([a-z]+)/.exec(s)?.[1] ?? 'simple') as 'simple' | 'relaxed'));
  return { m, ...p, rsa: sigs.filter((s) => /a=rsa-sha256/.test(s)).length, ed: sigs.filter((s) => /a=ed25519-sha256/.test(s)).length, canons: [...canons] };
});
const totalBytes = prepared.reduce((a, p) => a + p.m.raw.length, 0);
const rsaCount = prepared.reduce((a, p) => a + p.rsa, 0);
const edCount = prepared.reduce((a, p) => a + p.ed, 0);

const keyCache = new KeyParseCache();
const budget = { timeMs: 20_000, maxQueries: 200 };
const limits = { lookups: 10, voidLookups: 2 };
const dmarcOptions = { noAuthorPolicy: 'reject', multipleFrom: 'reject', countPartialBody: false } as const;
const engine: Engine = { dns: resolver, keyCache, now, budget, spfLimits: limits, minKeyBits: 1024, maxSignatures: 8, arc: true, dmarc: dmarcOptions, receiver: AUTHSERV_ID };
const envelope = (m: BenchMessage) => ({ ip: m.clientAddress, helo: m.helo, mailFrom: m.mailFrom });

async function wholeEngine(p: (typeof prepared)[number]) {
  const a = new MessageAuthenticator(engine, envelope(p.m));
  for (const h of p.headers) a.header(h);
  a.endOfHeaders();
  for (let i = 0; i < p.body.length; i += 65535) a.body(p.body.subarray(i, i + 65535));
  const r = await a.finish(checkIprev(p.m.clientAddress, resolver));
  renderAuthenticationResults(authenticationResults(AUTHSERV_ID, r));
  return r;
}

// One pass fills the resolver cache and the key cache; its results feed the DMARC and A-R stages.
const results: MessageResult[] = [];
for (const p of prepared) results.push(await wholeEngine(p));
const tally = new Map<string, number>();
for (const r of results) tally.set(`dmarc=${r.dmarc.result}`, (tally.get(`dmarc=${r.dmarc.result}`) ?? 0) + 1);
const sentAfterWarmup = resolver.stats().queriesSent;

// --------------------------------------------------------------------------- measurement
function cpuUs(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}
async function best(fn: () => Promise<void>): Promise<number> {
  await fn(); // JIT warm
  let min = Infinity;
  for (let r = 0; r < rounds; r++) {
    const t0 = cpuUs();
    await fn();
    min = Math.min(min, cpuUs() - t0);
  }
  return min / prepared.length; // µs per message
}

const rows: Array<[string, number]> = [];
rows.push([
  'SPF (checkSpf, per-message budget)',
  await best(async () => {
    for (const p of prepared) {
      const dns = budgetedLookup(resolver, budget);
      await checkSpf({ ...envelope(p.m), receiver: AUTHSERV_ID }, { dns, now, limits });
      dns.dispose();
    }
  }),
]);
rows.push([
  'iprev (PTR + forward)',
  await best(async () => {
    for (const p of prepared) await checkIprev(p.m.clientAddress, resolver);
  }),
]);
rows.push([
  'DKIM signatures: parse, key, header hash, verify (body excluded)',
  await best(async () => {
    for (const p of prepared) {
      const dns = budgetedLookup(resolver, budget);
      const v = new DkimVerifier({ dns, keyCache, now, minKeyBits: 1024, maxSignatures: 8 });
      const set = new BodyHashSet();
      v.start(p.headers, set);
      set.end();
      await v.finish();
      dns.dispose();
    }
  }),
]);
{
  // The crypto floor of that stage: the corpus's signatures × one verify with a KeyObject.
  const k = corpus.keys[0]!;
  const data = Buffer.alloc(600, 0x62);
  const rsaPub = createPublicKey(k.rsa);
  const edPub = createPublicKey(k.ed25519);
  const rsaSig = cryptoSign('sha256', data, k.rsa);
  const edSig = cryptoSign(null, data, k.ed25519);
  const n = 4000;
  const per = async (f: () => void) => {
    for (let i = 0; i < 500; i++) f();
    let min = Infinity;
    for (let r = 0; r < rounds; r++) {
      const t0 = cpuUs();
      for (let i = 0; i < n; i++) f();
      min = Math.min(min, (cpuUs() - t0) / n);
    }
    return min;
  };
  const rsaUs = await per(() => cryptoVerify('sha256', data, rsaPub, rsaSig));
  const edUs = await per(() => cryptoVerify(null, data, edPub, edSig));
  rows.push([`  of which RSA-2048 verify (${rsaCount} × ${rsaUs.toFixed(1)} µs)`, (rsaCount * rsaUs) / prepared.length]);
  rows.push([`  of which Ed25519 verify (${edCount} × ${edUs.toFixed(1)} µs)`, (edCount * edUs) / prepared.length]);
}
rows.push([
  'DKIM body hashing (each distinct c= once, 64 KiB chunks)',
  await best(async () => {
    for (const p of prepared) {
      const set = new BodyHashSet();
      for (const canon of p.canons) set.request({ canon });
      for (let i = 0; i < p.body.length; i += 65535) set.write(p.body.subarray(i, i + 65535));
      set.end();
    }
  }),
]);
rows.push([
  'ARC (unsealed: arc=none)',
  await best(async () => {
    for (const p of prepared) {
      const v = new ArcVerifier({ dns: resolver, keyCache, now, minKeyBits: 1024 });
      const set = new BodyHashSet();
      v.start(p.headers, set);
      set.end();
      await v.finish();
    }
  }),
]);
rows.push([
  'authors (From parsed)',
  await best(async () => {
    for (const p of prepared) authorsOf(p.headers);
  }),
]);
rows.push([
  'DMARC (discovery + evaluation over the actual results)',
  await best(async () => {
    for (let i = 0; i < prepared.length; i++) {
      const p = prepared[i]!;
      const r = results[i]!;
      const dns = budgetedLookup(resolver, budget);
      const d = new DmarcDiscovery(dns);
      const authors = authorsOf(p.headers);
      if (authors.ok) d.prefetch(authors.domains, [p.m.mailFrom.slice(p.m.mailFrom.indexOf('@') + 1), ...r.dkim.flatMap((c) => (c.domain ? [c.domain] : []))]);
      await d.check({ authors, ...(r.spf ? { spf: r.spf } : {}), dkim: r.dkim, dkimSkipped: r.dkimSkipped }, dmarcOptions);
      dns.dispose();
    }
  }),
]);
rows.push([
  'Authentication-Results (model + render)',
  await best(async () => {
    for (const r of results) renderAuthenticationResults(authenticationResults(AUTHSERV_ID, r));
  }),
]);
const whole = await best(async () => {
  for (const p of prepared) await wholeEngine(p);
});

if (resolver.stats().queriesSent !== sentAfterWarmup) throw new Error('a query was sent while timing: the cache was not warm');
line(`input: ${prepared.length} inbound messages of the bench corpus, ${(totalBytes / 1048576).toFixed(1)} MiB, ${rsaCount} RSA-2048 + ${edCount} Ed25519 signatures; ${JSON.stringify(Object.fromEntries(tally))}; best of ${rounds} rounds, warm caches, one core`);
line('');
line('| stage | CPU µs / message | CPU s / 1,000 messages | share of the whole engine |');
line('|---|---:|---:|---:|');
for (const [name, us] of rows) line(`| ${name} | ${us.toFixed(1)} | ${(us / 1000).toFixed(3)} | ${((us / whole) * 100).toFixed(0)} % |`);
line(`| **whole engine** (MessageAuthenticator, MAIL FROM → finish, A-R rendered) | **${whole.toFixed(1)}** | **${(whole / 1000).toFixed(3)}** | 100 % |`);

if (values['heap-sample']) {
  const { total, byFunction } = await sampleHeap(async () => {
    for (let r = 0; r < 3; r++) for (const p of prepared) await wholeEngine(p);
  }, 1024);
  line('');
  line(`allocated by the whole engine (sampled), ${(total / 3 / prepared.length / 1024).toFixed(1)} KiB per message; top functions:`);
  for (const [k, v] of byFunction.slice(0, 15)) line(`  ${((v / total) * 100).toFixed(1).padStart(5)} %  ${(v / 3 / prepared.length / 1024).toFixed(1).padStart(6)} KiB/msg  ${k}`);
}
