/**
 * Observations for the ns and dnssec checks, made after the other checks: they compare and
 * verify, on every authoritative server, exactly the RRsets the other checks read (the
 * probes are cached, so the freshest server is not asked twice).
 */
import type { DnsAnswer, RRType } from '../../dns/types.ts';
import { TYPE, typeName, type WireMessage, type WireRecord } from '../../dns/wire.ts';
import { typeNumber } from '../../dns/wire-query.ts';
import type { AuditDns } from '../dns-context.ts';
import type { NsObservation, RrsetComparison } from '../checks/ns.ts';
import type { DnssecObservation, DnssecServerObservation, SignedRrset } from '../checks/dnssec.ts';
import { failed, observe, observed, type Observed } from '../types.ts';
import { readEvery } from '../zone-reader.ts';
import { zoneServers, type ZoneServers } from '../zone-servers.ts';

/** `name|TYPE` → parts. */
const split = (key: string): { name: string; type: RRType } => {
  const i = key.lastIndexOf('|');
  return { name: key.slice(0, i), type: key.slice(i + 1) as RRType };
};

/** One record in presentation form, for comparison and messages. */
function recordText(rec: unknown): string {
  if (typeof rec === 'string') return rec;
  if (Buffer.isBuffer(rec)) return rec.toString('hex');
  if (Array.isArray(rec)) return rec.map((x) => JSON.stringify(x)).join(' ');
  const o = rec as Record<string, unknown>;
  if ('exchange' in o) return `${String(o.priority)} ${String(o.exchange)}`;
  if ('usage' in o) return `${String(o.usage)} ${String(o.selector)} ${String(o.matchingType)} ${(o.data as Buffer).toString('hex')}`;
  if ('serial' in o) return `${String(o.mname)} ${String(o.rname)} ${String(o.serial)}`;
  return JSON.stringify(o);
}

/** What a server serves for (name, type), as one comparable line (records sorted). */
function canonical(a: DnsAnswer): string {
  const texts = a.records.map(recordText);
  const chain = a.cnameChain.length ? `CNAME → ${a.canonicalName ?? '?'}: ` : '';
  if (texts.length === 0) return `${chain}${a.rcode === 'NXDOMAIN' ? 'NXDOMAIN' : 'no records'}`;
  return `${chain}${texts.sort().join(', ')}`;
}

async function compare(dns: AuditDns, zs: ZoneServers, keys: Iterable<string>): Promise<RrsetComparison[]> {
  return Promise.all(
    [...new Set(keys)].sort().map(async (key): Promise<RrsetComparison> => {
      const { name, type } = split(key);
      const answers = await readEvery(dns, zs, name, type);
      return {
        zone: zs.zone,
        name,
        type,
        answers: answers.map(({ server, answer }) => ({ server: server.label, answer: answer.ok ? observed(answer.value === 'referral' ? 'referral' : canonical(answer.value)) : answer })),
      };
    }),
  );
}

export async function gatherNs(dns: AuditDns, domain: string, zone: Observed<ZoneServers>, read: Iterable<string>, external: ReadonlyMap<string, ReadonlySet<string>>): Promise<NsObservation> {
  if (!zone.ok) return { domain, zone, rrsets: [] };
  const rrsets = await compare(dns, zone.value, read);
  // Records read in other zones (an MX host's TLSA), compared on that zone's servers.
  for (const [z, names] of external) {
    if (z === zone.value.zone) continue;
    const zs = await observe(() => zoneServers(dns, z));
    if (zs.ok) rrsets.push(...(await compare(dns, zs.value, [...names].map((n) => `${n}|TLSA`))));
  }
  return { domain, zone, rrsets };
}

function sections(m: WireMessage, zone: string): SignedRrset[] {
  const out: SignedRrset[] = [];
  for (const section of [m.answer, m.authority]) {
    const rrsigs = section.filter((r) => r.type === TYPE.RRSIG);
    const groups = new Map<string, WireRecord[]>();
    for (const rec of section) {
      if (rec.type === TYPE.RRSIG || rec.type === TYPE.OPT) continue;
      const owner = rec.owner.text;
      // Only data the zone signs: its own names, not a referral's NS or another zone's records.
      if (!(owner === zone || owner.endsWith(`.${zone}`) || zone === '')) continue;
      if (rec.type === TYPE.NS && owner !== zone) continue;
      const k = `${owner}|${rec.type}`;
      groups.set(k, [...(groups.get(k) ?? []), rec]);
    }
    for (const records of groups.values()) out.push({ label: `${records[0]!.owner.text} ${typeName(records[0]!.type)}`, records, rrsigs });
  }
  return out;
}

export async function gatherDnssec(dns: AuditDns, zone: ZoneServers, read: Iterable<string>): Promise<DnssecObservation> {
  const names = [`${zone.zone}|SOA`, ...read];
  // Lame and silent servers are the ns check's findings; here every server that serves the zone.
  const servers = await Promise.all(
    zone.servers.filter((s) => zone.preferred.includes(s)).map(async (server): Promise<DnssecServerObservation> => {
      const dk = await dns.ask(server.address, zone.zone || '.', TYPE.DNSKEY);
      const dnskey: DnssecServerObservation['dnskey'] = !dk.ok
        ? dk
        : dk.value.rcode !== 0
          ? { ok: false, error: `rcode ${dk.value.rcode}`, code: 'OTHER' }
          : observed({ records: dk.value.answer.filter((r) => r.type === TYPE.DNSKEY && r.owner.text === zone.zone), rrsigs: dk.value.answer.filter((r) => r.type === TYPE.RRSIG && r.owner.text === zone.zone) });
      const rrsets: SignedRrset[] = [];
      const errors: string[] = [];
      const seen = new Set<string>();
      const keys = [...new Set(names)];
      const probes = await Promise.all(keys.map((key) => dns.ask(server.address, split(key).name, typeNumber(split(key).type))));
      for (const [i, key] of keys.entries()) {
        const { name, type } = split(key);
        const p = probes[i]!;
        if (!p.ok) {
          errors.push(`${name} ${type}: ${p.error}`);
          continue;
        }
        if (p.value.rcode !== 0 && p.value.rcode !== 3) continue; // the ns check reports it
        for (const set of sections(p.value, zone.zone)) {
          const id = `${set.label}|${set.records.map((r) => r.canonicalRdata.toString('hex')).sort().join(',')}`;
          if (seen.has(id)) continue;
          seen.add(id);
          rrsets.push(set);
        }
      }
      return { server: server.label, dnskey, rrsets, errors };
    }),
  );
  const resolver = await dns.validating.query(zone.zone || '.', 'SOA', { dnssec: true }).then(
    (a) => observed({ authenticated: a.authenticated }),
    (err: unknown) => failed(err),
  );
  return { zone: zone.zone, ds: zone.ds, servers, resolver };
}
