/**
 * The SPF engine's cost per evaluation, warm cache (not a test; nothing here runs in
 * `npm test`):
 *
 *   node bench/spf.ts [--seconds 3]
 *
 * Our real caching resolver (src/dns/resolver.ts) is filled once through an in-process DNS
 * transport (real wire-format replies encoded by dns-packet); every timed evaluation is then
 * answered from its cache, as for a sender seen a moment ago. Each evaluation is what the
 * engine does per message: a per-message DNS budget around the resolver, `checkSpf`, dispose.
 * Scenarios: the typical record of the issue — an include chain of 3 (sender → ESP → its
 * netblocks → a second netblock list, the client in the last one) — and, for scale, a
 * fan-out (one include of three netblock lists), a fail (every range scanned), and mx + a.
 * mailauth 7.1 strict runs the same scenarios on the same warm resolver for comparison.
 */
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import * as dnsPacket from 'dns-packet';
import { budgetedLookup } from '../src/auth/dns-budget.ts';
import { checkSpf } from '../src/auth/spf/check.ts';
import { mailauthResolver } from '../test/support/mailauth-resolver.ts';
import { createResolver } from '../src/dns/resolver.ts';
import type { DnsTransport } from '../src/dns/transport.ts';

const { values: args } = parseArgs({ options: { seconds: { type: 'string', default: '3' } } });
const seconds = Number(args.seconds);

const v4 = (base: string, n: number) => Array.from({ length: n }, (_, i) => `ip4:${base}.${i * 16}.0/20`).join(' ');
const v6 = (n: number) => Array.from({ length: n }, (_, i) => `ip6:2001:db8:${(i + 1).toString(16)}::/48`).join(' ');

/** name → record type → rdata as dns-packet takes it. */
const ZONE: Record<string, Partial<Record<'TXT' | 'A' | 'AAAA' | 'MX', unknown[]>>> = {
  // include chain of 3
  'sender.example': { TXT: ['v=spf1 include:_spf.esp.example -all'] },
  '_spf.esp.example': { TXT: [`v=spf1 ${v4('198.18', 4)} include:_nb.esp.example ~all`] },
  '_nb.esp.example': { TXT: [`v=spf1 ${v4('198.19', 8)} ${v6(4)} include:_nb2.esp.example ~all`] },
  '_nb2.esp.example': { TXT: [`v=spf1 ${v4('203.0', 8)} ${v6(4)} ~all`] },
  // fan-out: one include of three netblock lists (the shape of the large mailbox providers)
  'fanout.example': { TXT: ['v=spf1 include:_spf.big.example ~all'] },
  '_spf.big.example': { TXT: ['v=spf1 include:_n1.big.example include:_n2.big.example include:_n3.big.example ~all'] },
  '_n1.big.example': { TXT: [`v=spf1 ${v4('198.18', 10)} ~all`] },
  '_n2.big.example': { TXT: [`v=spf1 ${v4('198.19', 10)} ~all`] },
  '_n3.big.example': { TXT: [`v=spf1 ${v4('203.0', 10)} ${v6(6)} ~all`] },
  // mx + a
  'own.example': { TXT: ['v=spf1 mx a:out.own.example -all'], MX: [{ preference: 10, exchange: 'mx1.own.example' }, { preference: 20, exchange: 'mx2.own.example' }] },
  'mx1.own.example': { A: ['192.0.2.1'] },
  'mx2.own.example': { A: ['192.0.2.2'] },
  'out.own.example': { A: ['192.0.2.25'], AAAA: ['2001:db8::25'] },
};

const transport: DnsTransport = async (_server, request) => {
  const q = dnsPacket.decode(request);
  const question = q.questions![0]!;
  const name = question.name.toLowerCase();
  const data = ZONE[name]?.[question.type as 'TXT'];
  // A TXT record longer than one character-string (255 octets) is several strings (RFC 7208 §3.3).
  const chunks = (d: unknown) => (typeof d === 'string' ? (d.match(/.{1,250}/gs) ?? ['']) : d);
  const answers = (data ?? []).map((d) => ({ name, type: question.type, class: 'IN', ttl: 3600, data: question.type === 'TXT' ? chunks(d) : d }) as dnsPacket.Answer);
  const soa = { name: 'example', type: 'SOA', class: 'IN', ttl: 300, data: { mname: 'ns.example', rname: 'h.example', serial: 1, refresh: 1, retry: 1, expire: 1, minimum: 300 } } as dnsPacket.Answer;
  return dnsPacket.encode({
    type: 'response',
    id: q.id,
    flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE,
    rcode: ZONE[name] ? 'NOERROR' : 'NXDOMAIN',
    questions: q.questions,
    answers,
    authorities: answers.length === 0 ? [soa] : [],
  } as dnsPacket.Packet);
};

const resolver = createResolver({ servers: [{ host: '127.0.0.1', port: 53 }], transport, maxTtlSec: 86400 });
const limits = { lookups: 10, voidLookups: 2 };
const budget = { timeMs: 20_000, maxQueries: 200 };

interface Scenario {
  readonly name: string;
  readonly ip: string;
  readonly mailFrom: string;
  readonly expect: string;
}
const scenarios: Scenario[] = [
  { name: 'include chain of 3, pass (client in the last list)', ip: '203.0.112.9', mailFrom: 'news@sender.example', expect: 'pass' },
  { name: 'include chain of 3, pass over IPv6', ip: '2001:db8:4::9', mailFrom: 'news@sender.example', expect: 'pass' },
  { name: 'fan-out 1 + 3 includes, pass in the third', ip: '203.0.144.1', mailFrom: 'a@fanout.example', expect: 'pass' },
  { name: 'include chain of 3, fail (every range scanned)', ip: '192.0.2.200', mailFrom: 'news@sender.example', expect: 'fail' },
  { name: 'mx + a, pass on a', ip: '192.0.2.25', mailFrom: 'a@own.example', expect: 'pass' },
];

async function ours(s: Scenario): Promise<string> {
  const dns = budgetedLookup(resolver, budget);
  try {
    return (await checkSpf({ ip: s.ip, mailFrom: s.mailFrom, helo: 'client.example.net', receiver: 'mx.receiver.example' }, { dns, now: Date.now, limits })).result;
  } finally {
    dns.dispose();
  }
}

const { spf } = createRequire(import.meta.url)('mailauth/lib/spf') as { spf(o: Record<string, unknown>): Promise<{ status: { result: string } }> };
async function mailauth(s: Scenario): Promise<string> {
  const dns = budgetedLookup(resolver, budget);
  try {
    const r = await spf({ sender: s.mailFrom, ip: s.ip, helo: 'client.example.net', mta: 'mx.receiver.example', resolver: mailauthResolver(dns), strict: true, ...{ maxResolveCount: 10, maxVoidCount: 2 } });
    return r.status.result;
  } finally {
    dns.dispose();
  }
}

async function measure(run: (s: Scenario) => Promise<string>, s: Scenario): Promise<{ us: number; perSec: number }> {
  for (let i = 0; i < 2000; i++) if ((await run(s)) !== s.expect) throw new Error(`${s.name}: expected ${s.expect}`);
  const sentBefore = resolver.stats().queriesSent;
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  let n = 0;
  const until = Date.now() + seconds * 1000;
  while (Date.now() < until) {
    for (let i = 0; i < 500; i++) await run(s);
    n += 500;
  }
  const cpu = process.cpuUsage(cpu0);
  const wall = Number(process.hrtime.bigint() - t0) / 1e3;
  if (resolver.stats().queriesSent !== sentBefore) throw new Error('the cache was not warm');
  return { us: (cpu.user + cpu.system) / n, perSec: Math.round(n / (wall / 1e6)) };
}

console.log(`node ${process.version}, ${seconds} s per cell, CPU µs per evaluation (user+sys), warm resolver cache, per-message budget included\n`);
console.log('| scenario | checkSpf µs/eval | evals/s | mailauth strict µs/eval | evals/s |');
console.log('|---|---:|---:|---:|---:|');
for (const s of scenarios) {
  const a = await measure(ours, s);
  const b = await measure(mailauth, s);
  console.log(`| ${s.name} | ${a.us.toFixed(1)} | ${a.perSec} | ${b.us.toFixed(1)} | ${b.perSec} |`);
}
