/**
 * `node bench/dmarc-stage.ts`: CPU cost per message of the engine's DMARC, author, iprev and
 * Authentication-Results stages, on an in-memory DNS (so only our code is timed, as with a
 * warm resolver cache). Prints µs per message for each stage; not a test, never timed in CI.
 */
import { performance } from 'node:perf_hooks';
import { authenticationResults } from '../src/auth/authentication-results.ts';
import { DmarcDiscovery } from '../src/auth/dmarc/discovery.ts';
import { evaluateDmarc, type DmarcInput } from '../src/auth/dmarc/evaluate.ts';
import { checkIprev } from '../src/auth/iprev/check.ts';
import type { DnsAnswer, DnsLookup, RRType } from '../src/dns/types.ts';
import { claimsAuthservId, renderAuthenticationResults } from '../src/mail/auth-results.ts';
import { authorsOf } from '../src/mail/author.ts';

const N = Number(process.argv[2] ?? 20_000);

/** A DnsLookup answering from a map at once, like a cache hit. */
function memoryDns(records: Record<string, Partial<Record<RRType, unknown[]>>>): DnsLookup {
  return {
    async query<T extends RRType>(name: string, type: T): Promise<DnsAnswer<T>> {
      const entry = records[name];
      const data = (entry?.[type] ?? []) as DnsAnswer<T>['records'];
      return { name, type, rcode: entry ? 'NOERROR' : 'NXDOMAIN', records: data, ttl: 300, authenticated: false, authoritative: false, cnameChain: [] };
    },
  };
}

const dns = memoryDns({
  '_dmarc.example.com': { TXT: [['v=DMARC1; p=reject; sp=quarantine; rua=mailto:dmarc@example.com']] },
  'news.example.com': { A: ['192.0.2.1'] },
  '10.2.0.192.in-addr.arpa': { PTR: ['mail.example.com'] },
  'mail.example.com': { A: ['192.0.2.10'] },
});
const from = [{ name: 'From', value: ' "Example News" <news@news.example.com>' }];
const base = {
  spf: { result: 'pass', scope: 'mfrom', domain: 'bounce.example.com', identity: 'b@bounce.example.com', reason: 'ip4 matched', lookups: 2, voidLookups: 0 },
  dkim: [{ result: 'pass', domain: 'example.com', selector: 's1', algorithm: 'rsa-sha256', identity: '@example.com', signature: 'abcdefghijklmnop', keyBits: 2048, partialBody: false, testing: false, reason: 'verified' }],
} as const;
const options = { noAuthorPolicy: 'reject', multipleFrom: 'reject' } as const;

async function time(label: string, fn: () => unknown | Promise<unknown>): Promise<void> {
  for (let i = 0; i < 2000; i++) await fn(); // warm up
  const start = performance.now();
  const cpu = process.cpuUsage();
  for (let i = 0; i < N; i++) await fn();
  const used = process.cpuUsage(cpu);
  const wall = performance.now() - start;
  console.log(`${label.padEnd(48)} ${((wall * 1000) / N).toFixed(1).padStart(7)} µs wall  ${(((used.user + used.system) / N)).toFixed(1).padStart(7)} µs CPU`);
}

const input: DmarcInput = { authors: authorsOf(from), ...base };
const facts = await new DmarcDiscovery(dns).facts(input, options);
const check = evaluateDmarc(input, facts, options);
const auth = { ...base, dkimSkipped: 0, dmarc: check, iprev: await checkIprev('192.0.2.10', dns) };

console.log(`${N} messages each; DMARC result ${check.result}`);
await time('authors (parse the From field)', () => authorsOf(from));
await time('DMARC evaluation (pure, facts given)', () => evaluateDmarc(input, facts, options));
await time('DMARC discovery + evaluation (memory DNS)', () => new DmarcDiscovery(dns).check({ authors: authorsOf(from), ...base }, options));
await time('iprev (memory DNS)', () => checkIprev('192.0.2.10', dns));
await time('A-R model + render', () => renderAuthenticationResults(authenticationResults('mx.example.org', auth)));
await time('forged-id check of one incoming A-R', () => claimsAuthservId(' mx.example.org; dkim=pass header.d=example.com', 'mx.example.org'));
