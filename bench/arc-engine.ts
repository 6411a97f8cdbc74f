/**
 * `node bench/arc-engine.ts`: the ARC engine's own CPU cost, in process, without milter or
 * network — chain validation of 1- and 3-hop chains (RSA-2048, keys from a warm parse cache
 * and an in-memory DNS) and sealing (two RSA-2048 signatures). Reports CPU ms per 1,000
 * messages; the body is a 4 KB text part hashed once per message.
 */
import { generateKeyPairSync } from 'node:crypto';
import { seal, ARC_SEAL_BODY_HASH } from '../src/auth/arc/seal.ts';
import { ArcVerifier } from '../src/auth/arc/verify.ts';
import { BodyHashSet } from '../src/auth/dkim/body-hash.ts';
import { KeyParseCache } from '../src/auth/dkim/key-lookup.ts';
import type { DnsAnswer, DnsLookup, RRType } from '../src/dns/types.ts';
import type { HeaderField } from '../src/mail/header.ts';
import type { ArcCheck } from '../src/auth/results.ts';

const keys = ['hop1.test', 'hop2.test', 'hop3.test'].map((domain) => {
  const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { domain, pair, record: `v=DKIM1; k=rsa; p=${pair.publicKey.export({ type: 'spki', format: 'der' }).toString('base64')}` };
});
const zone = new Map(keys.map((k) => [`arc._domainkey.${k.domain}`, k.record]));
const dns: DnsLookup = {
  async query<T extends RRType>(name: string, type: T): Promise<DnsAnswer<T>> {
    const r = zone.get(name);
    return { name, type, rcode: r ? 'NOERROR' : 'NXDOMAIN', records: (r ? [[r]] : []) as never, ttl: 300, authenticated: false, authoritative: false, cnameChain: [] };
  },
};

const headers: HeaderField[] = [
  { name: 'From', value: ' Alice <alice@origin.test>' },
  { name: 'To', value: ' list@lists.example.org' },
  { name: 'Subject', value: ' A message of ordinary size' },
  { name: 'Date', value: ' Thu, 1 Jan 2026 10:00:00 +0000' },
  { name: 'Message-ID', value: ' <1@origin.test>' },
  { name: 'MIME-Version', value: ' 1.0' },
  { name: 'Content-Type', value: ' text/plain; charset=utf-8' },
];
const body = Buffer.from('A line of text that is about sixty-four octets long, give or take.\r\n'.repeat(64));
const none: ArcCheck = { result: 'none', instances: 0, sealers: [], hopResults: [], reason: '' };
const cache = new KeyParseCache();

function bodyHash(): Buffer {
  const set = new BodyHashSet();
  const h = set.request(ARC_SEAL_BODY_HASH);
  set.write(body);
  set.end();
  return set.result(h).digest;
}

async function sealOnce(h: readonly HeaderField[], k: (typeof keys)[number], chain: ArcCheck): Promise<HeaderField[]> {
  const out = await seal({
    headers: h, bodyHash: bodyHash(), authservId: `mx.${k.domain}`, authenticationResults: `mx.${k.domain}; spf=pass smtp.mailfrom=origin.test; dkim=pass header.d=origin.test; dmarc=pass header.from=origin.test; arc=${chain.result}`,
    chain, key: { id: k.domain, domain: k.domain, selector: 'arc', algorithm: 'rsa-sha256', privateKey: k.pair.privateKey }, timestamp: 1_767_261_600,
    signedHeaders: ['from', 'to', 'subject', 'date', 'message-id', 'mime-version', 'content-type', 'dkim-signature'], oversignedHeaders: ['from', 'to', 'subject'],
  });
  if (out.kind !== 'sealed') throw new Error(out.reason);
  return [...out.fields, ...h];
}

async function verifyOnce(h: readonly HeaderField[]): Promise<ArcCheck> {
  const v = new ArcVerifier({ dns, keyCache: cache, now: Date.now, minKeyBits: 1024 });
  const set = new BodyHashSet();
  v.start(h, set);
  set.write(body);
  set.end();
  return v.finish();
}

async function measure(label: string, n: number, fn: () => Promise<unknown>): Promise<void> {
  for (let i = 0; i < 50; i++) await fn(); // warm-up
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await fn();
  const cpu = process.cpuUsage(cpu0);
  const ms = (cpu.user + cpu.system) / 1000;
  console.log(`| ${label} | ${n} | ${((ms / n) * 1000).toFixed(0)} | ${((performance.now() - t0) / n).toFixed(3)} |`);
}

const one = await sealOnce(headers, keys[0]!, none);
let three = one;
for (const k of keys.slice(1)) three = await sealOnce(three, k, await verifyOnce(three));
if ((await verifyOnce(three)).result !== 'pass') throw new Error('3-hop chain does not verify');

console.log('| ARC work (RSA-2048, 4 KB body) | messages | CPU ms / 1,000 messages | wall ms / message |');
console.log('|---|---|---|---|');
await measure('unsealed message (arc=none)', 20_000, () => verifyOnce(headers));
await measure('verify 1-hop chain (1 AMS + 1 AS)', 3_000, () => verifyOnce(one));
await measure('verify 3-hop chain (3 AMS + 3 AS)', 2_000, () => verifyOnce(three));
await measure('seal on top of a 1-hop chain (2 RSA signatures)', 500, async () => sealOnce(one, keys[1]!, { ...none, result: 'pass', instances: 1 }));
