/**
 * Observations for the dkim check: the keystore's keys for the domain (published, active,
 * retired) and any `--selector`, each read as a verifier would (through CNAMEs) and on
 * every authoritative server of the zone that holds it — the keystore's own zones and
 * names (`publishedName`, hosted targets) from src/keys/.
 */
import type { DomainKeysConfig } from '../../keys/config.ts';
import { customerCnames, hostedTargetName } from '../../keys/hosted.ts';
import type { StoredKey } from '../../keys/key-store.ts';
import { publicationZone, publishedName, recordName, wantedValue } from '../../keys/rotate.ts';
import { splitTxt } from '../../keys/dkim-record.ts';
import type { DnsLookup } from '../../dns/types.ts';
import type { AuditDns } from '../dns-context.ts';
import type { DkimKeyObservation, DkimObservation, DkimServerObservation } from '../checks/dkim.ts';
import { observe } from '../types.ts';
import { readEvery } from '../zone-reader.ts';
import { zoneServers } from '../zone-servers.ts';

export interface DkimGatherInput {
  readonly domain: string;
  readonly cfg: DomainKeysConfig;
  /** The domain is in keys.domains (its algorithms are then expected to have active keys). */
  readonly configured: boolean;
  /** The keystore's keys for the domain, or why it could not be read. */
  readonly keys: readonly StoredKey[] | { readonly error: string };
  readonly selectors: readonly string[];
}

/** Each server's TXT at `name` in `zone`, judged against `expected` (undefined: presence only). */
async function serversTxt(dns: AuditDns, zone: string, name: string, expected: string | undefined): Promise<DkimServerObservation[]> {
  const zs = await zoneServers(dns, zone);
  if (zs.preferred.length === 0) return [{ server: zone, status: 'error', detail: 'no server answers authoritatively for the zone (see the ns check)' }];
  return (await readEvery(dns, zs, name, 'TXT')).map(({ server, answer }): DkimServerObservation => {
    if (!answer.ok) return { server: server.label, status: 'error', detail: answer.error };
    if (answer.value === 'referral') return { server: server.label, status: 'error', detail: 'refers to another zone' };
    const values = answer.value.records.map((r) => r.join(''));
    if (expected === undefined) return values.length ? { server: server.label, status: 'match' } : { server: server.label, status: 'missing', detail: 'no record' };
    if (values.includes(expected)) return { server: server.label, status: 'match' };
    if (values.length === 0) return { server: server.label, status: 'missing', detail: answer.value.cnameChain.length ? 'CNAME only' : 'not served' };
    return { server: server.label, status: 'mismatch', detail: 'serves a different key' };
  });
}

/** The customer's CNAME of a hosted selector on each of the customer zone's servers. */
async function serversCname(dns: AuditDns, zone: string, name: string, target: string): Promise<DkimServerObservation[]> {
  const zs = await zoneServers(dns, zone);
  const fix = `the customer must publish ${name}. CNAME ${target}.`;
  return (await readEvery(dns, zs, name, 'CNAME')).map(({ server, answer }): DkimServerObservation => {
    const label = `${server.label} (customer zone ${zone})`;
    if (!answer.ok) return { server: label, status: 'error', detail: answer.error };
    if (answer.value === 'referral') return { server: label, status: 'error', detail: 'refers to another zone' };
    const targets = answer.value.records.map((t) => t.replace(/\.$/, ''));
    if (targets.includes(target)) return { server: label, status: 'match' };
    if (targets.length === 0) return { server: label, status: 'missing', detail: `customer CNAME missing: ${fix}` };
    return { server: label, status: 'mismatch', detail: `customer CNAME points to ${targets.join(', ')}: ${fix}` };
  });
}

async function published(lookup: DnsLookup, name: string): Promise<DkimKeyObservation['published']> {
  return observe(async () => {
    const a = await lookup.query(name, 'TXT');
    return { texts: a.records.map((parts) => parts.join('')), cnameChain: a.cnameChain };
  });
}

export async function gatherDkim(dns: AuditDns, lookup: DnsLookup, input: DkimGatherInput, zoneOf: (name: string) => Promise<string>): Promise<DkimObservation> {
  const { domain, cfg } = input;
  const policy = { lifetimeMs: cfg.lifetime, ttlMs: cfg.ttl, ttlMarginMs: cfg.ttl_margin };
  const stored = 'error' in input.keys ? [] : input.keys.filter((k) => k.state === 'published' || k.state === 'active' || k.state === 'retired');
  const keys: DkimKeyObservation[] = await Promise.all(
    stored.map(async (k): Promise<DkimKeyObservation> => {
      const where = publishedName(domain, cfg, k.selector);
      const value = wantedValue(k, 'published')!;
      const name = recordName(domain, k.selector);
      // The zone that really holds the name (publicationZone may name a parent or the hosted target's parent).
      const zone = await zoneOf(where.name).catch(() => publicationZone(domain, cfg));
      const servers: DkimServerObservation[] = [...(await serversTxt(dns, zone, where.name, value))];
      if (cfg.hosted) servers.push(...(await serversCname(dns, await zoneOf(name).catch(() => cfg.zone ?? domain), name, hostedTargetName(cfg.hosted, domain, k.selector))));
      const record = cfg.hosted
        ? `${customerCnames(cfg.hosted, domain, [k.algorithm]).find((c) => c.startsWith(`${k.selector}.`)) ?? ''}; and in ${cfg.hosted.target}: ${where.name}. IN TXT ${splitTxt(value).map((s) => `"${s}"`).join(' ')}`
        : `${where.name}. IN TXT ${splitTxt(value).map((s) => `"${s}"`).join(' ')}`;
      return { selector: k.selector, source: 'keystore', algorithm: k.algorithm, state: k.state, stateSince: k.stateSince, name, expected: { value, name: where.name, record }, published: await published(lookup, name), servers };
    }),
  );
  const known = new Set(keys.map((k) => k.selector));
  for (const selector of input.selectors.filter((s) => !known.has(s))) {
    const name = recordName(domain, selector);
    const zone = await zoneOf(name).catch(() => domain);
    keys.push({ selector, source: 'option', name, published: await published(lookup, name), servers: await serversTxt(dns, zone, name, undefined) });
  }
  return { domain, keys, policy, ...('error' in input.keys ? { keystoreError: input.keys.error } : { ...(input.configured ? { algorithms: cfg.algorithms } : {}) }) };
}
