/**
 * `node bench/mailauth-baseline.ts [--seconds N]`: the cost floor of the library mailanchor
 * builds on, without any milter around it — mailauth's `authenticate()` over the inbound half
 * of the corpus and `dkimSign()` (RSA-2048) over the outbound half, one core, DNS answered
 * from memory (the bench zone). Tells how much of mailanchor's per-message CPU is the library
 * and how much is ours (milter session, DNS cache, headers). Not part of `npm run bench`.
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { authenticate } from 'mailauth';
import { dkimSign } from 'mailauth/lib/dkim/sign.js';
import { AUTHSERV_ID, buildCorpus, OUR_DOMAIN, RSA_SELECTOR } from './corpus.ts';
import { benchZones } from './dns.ts';


/** A resolver over the bench zone text: enough of the zone-file syntax benchZones writes. */
function zoneResolver(zones: Map<string, string>): (name: string, type: string) => Promise<unknown> {
  const records = new Map<string, string[]>();
  for (const [origin, text] of zones) {
    for (const line of text.split('\n')) {
      const m = /^(\S+) (TXT|A|PTR|MX) (.+)$/.exec(line);
      if (!m) continue;
      const owner = m[1] === '@' ? origin.replace(/\.$/, '') : `${m[1]}.${origin.replace(/\.$/, '')}`;
      const key = `${owner.toLowerCase()}/${m[2]}`;
      const list = records.get(key) ?? [];
      list.push(m[3]!);
      records.set(key, list);
    }
  }
  return async (name, type) => {
    const list = records.get(`${name.toLowerCase().replace(/\.$/, '')}/${type}`);
    if (!list) throw Object.assign(new Error(`no ${type} for ${name}`), { code: 'ENOTFOUND' });
    if (type === 'TXT') return list.map((v) => [...v.matchAll(/"([^"]*)"/g)].map((x) => x[1]!));
    if (type === 'MX') return list.map((v) => ({ priority: Number(v.split(' ')[0]), exchange: v.split(' ')[1]! }));
    if (type === 'PTR') return list.map((v) => v.replace(/\.$/, ''));
    return list;
  };
}

const { values } = parseArgs({ options: { seconds: { type: 'string' } } });
const seconds = Number(values.seconds ?? 5);
const corpus = await buildCorpus({ count: 400 });
const resolver = zoneResolver(benchZones(corpus.keys, '127.0.0.1'));
const inbound = corpus.messages.filter((m) => m.direction === 'inbound');
const outbound = corpus.messages.filter((m) => m.direction === 'outbound');
const key = corpus.keys.find((k) => k.domain === OUR_DOMAIN)!.rsa;
const pem = key.export({ type: 'pkcs8', format: 'pem' });

async function measure(label: string, fn: (i: number) => Promise<void>): Promise<void> {
  for (let i = 0; i < 50; i++) await fn(i); // warm-up
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < seconds * 1000) await fn(n++);
  const cpu = process.cpuUsage(cpu0);
  const wall = (performance.now() - t0) / 1000;
  process.stdout.write(`${label}: ${n} msgs, ${(n / wall).toFixed(1)} msg/s on one core, ${(((cpu.user + cpu.system) / 1e6 / n) * 1000).toFixed(2)} CPU s / 1000 msg\n`);
}

await measure('mailauth authenticate (inbound)', async (i) => {
  const m = inbound[i % inbound.length]!;
  const r = await authenticate(m.raw, { ip: m.clientAddress, helo: m.helo, sender: m.mailFrom, mta: AUTHSERV_ID, resolver: resolver as never, disableBimi: true });
  if (!r.dkim) throw new Error('no result');
});
await measure('mailauth dkimSign RSA-2048 (outbound)', async (i) => {
  const m = outbound[i % outbound.length]!;
  const r = await dkimSign(m.raw, { canonicalization: 'relaxed/relaxed', signatureData: [{ signingDomain: OUR_DOMAIN, selector: RSA_SELECTOR, privateKey: pem }] } as never);
  if (!r.signatures) throw new Error('not signed');
});
