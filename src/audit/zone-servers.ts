/**
 * A zone's delegation and authoritative servers, as the ns and dnssec checks need them:
 *
 *  1. the parent's view: a parent server asked directly (RD=0) for the zone's NS gives the
 *     referral (NS in authority, RFC 1034 §4.3.2 step 3b), and for its DS the parent's
 *     authoritative answer (RFC 4035 §3.1.4.1) with signatures;
 *  2. every nameserver named by the delegation or by the zone's own NS RRset, each with all
 *     its IPv4 and IPv6 addresses;
 *  3. each address asked for the SOA: authoritative or lame, and its serial.
 *
 * Records are then read from the servers that answered authoritatively, highest serial
 * first (`preferred`): a lagging secondary is reported by the ns check, it does not decide
 * what the other checks see. Found once per zone per run (`AuditDns.zones`).
 */
import { isIP } from 'node:net';
import { DnsError, type DnsServer } from '../dns/types.ts';
import { rcodeName, rdataOf, TYPE, type WireRecord } from '../dns/wire.ts';
import type { AuditDns } from './dns-context.ts';
import { canonicalIp } from './addresses.ts';
import { failed, observe, observed, type Observed } from './types.ts';

export interface ServerRef {
  readonly address: DnsServer;
  /** `ns1.example.org [192.0.2.53]`: how reports name it. */
  readonly label: string;
  readonly nameserver: string;
  readonly family: 4 | 6;
}

export interface NameserverInfo {
  readonly name: string;
  readonly inDelegation: boolean;
  readonly inZone: boolean;
  readonly v4: Observed<readonly string[]>;
  readonly v6: Observed<readonly string[]>;
}

export interface SoaObservation {
  readonly rcode: string;
  readonly authoritative: boolean;
  readonly serial?: number;
  /** NOERROR without AA but with NS in authority: the server sends us elsewhere (lame). */
  readonly referral: boolean;
}

export interface ZoneServers {
  readonly zone: string;
  readonly parent?: string;
  /** The NS names the parent delegates to. */
  readonly delegation: Observed<{ readonly ns: readonly string[]; readonly server: string }>;
  /** The DS RRset at the parent, with its RRSIGs (empty records: no DS). */
  readonly ds: Observed<{ readonly records: readonly WireRecord[]; readonly rrsigs: readonly WireRecord[]; readonly server: string }>;
  /** The zone's own NS RRset, as the preferred server serves it. */
  readonly zoneNs: Observed<{ readonly ns: readonly string[]; readonly server: string }>;
  readonly nameservers: readonly NameserverInfo[];
  readonly servers: readonly ServerRef[];
  readonly soa: readonly { readonly server: ServerRef; readonly soa: Observed<SoaObservation> }[];
  /** Authoritative servers, highest SOA serial first (RFC 1982 order), then in list order. */
  readonly preferred: readonly ServerRef[];
}

const parentName = (zone: string): string => zone.split('.').slice(1).join('.');

/** RFC 1982 §3.2: is serial a greater than b? */
export function serialGreater(a: number, b: number): boolean {
  return a !== b && ((a < b && b - a > 2 ** 31) || (a > b && a - b < 2 ** 31));
}

async function addresses(dns: AuditDns, name: string): Promise<{ v4: Observed<string[]>; v6: Observed<string[]> }> {
  const [v4, v6] = await Promise.all([
    observe(async () => (await dns.lookup.query(name, 'A')).records.map(canonicalIp)),
    observe(async () => (await dns.lookup.query(name, 'AAAA')).records.map(canonicalIp)),
  ]);
  return { v4, v6 };
}

function refs(name: string, v4: Observed<readonly string[]>, v6: Observed<readonly string[]>): ServerRef[] {
  const out: ServerRef[] = [];
  for (const list of [v4, v6]) {
    if (!list.ok) continue;
    for (const host of list.value) out.push({ address: { host, port: 53 }, label: `${name} [${host}]`, nameserver: name, family: isIP(host) === 6 ? 6 : 4 });
  }
  return out;
}

/** The parent's servers, in a stable order: resolved through the resolver (not audited themselves). */
async function parentServers(dns: AuditDns, parent: string): Promise<ServerRef[]> {
  const ns = await dns.lookup.query(parent === '' ? '.' : parent, 'NS');
  if (ns.records.length === 0) throw new DnsError('OTHER', `the parent zone ${parent || '.'} has no NS records`, { zone: parent });
  const out: ServerRef[] = [];
  for (const name of [...new Set(ns.records)].sort()) {
    const a = await addresses(dns, name);
    out.push(...refs(name, a.v4, a.v6));
  }
  if (out.length === 0) throw new DnsError('OTHER', `no addresses for the servers of the parent zone ${parent || '.'}`, { zone: parent });
  return out;
}

/** NS owner names of a section, lower case. */
const nsNames = (records: readonly WireRecord[], zone: string): string[] => [...new Set(records.filter((r) => r.type === TYPE.NS && r.owner.text === zone).map((r) => rdataOf.name(r.rdata)))].sort();

/** Asks parent servers in turn (at most four) until one answers the delegation and DS questions. */
async function delegationOf(dns: AuditDns, zone: string, parent: string): Promise<{ delegation: ZoneServers['delegation']; ds: ZoneServers['ds'] }> {
  let servers: ServerRef[];
  try {
    servers = await parentServers(dns, parent);
  } catch (err) {
    const f = failed(err);
    return { delegation: f, ds: f };
  }
  let lastError: Observed<never> = { ok: false, error: `no parent server answered for ${zone}`, code: 'OTHER' };
  for (const server of servers.slice(0, 4)) {
    const ref = await dns.ask(server.address, zone, TYPE.NS);
    if (!ref.ok) {
      lastError = { ok: false, error: `${server.label}: ${ref.error}`, code: ref.code };
      continue;
    }
    const m = ref.value;
    if (m.rcode === 3) {
      const f = { ok: false as const, error: `the parent ${parent || '.'} (${server.label}) answers NXDOMAIN for ${zone}: the zone is not delegated`, code: 'NXDOMAIN' };
      return { delegation: f, ds: f };
    }
    if (m.rcode !== 0) {
      lastError = { ok: false, error: `${server.label} answered ${rcodeName(m.rcode)} for ${zone} NS`, code: rcodeName(m.rcode) };
      continue;
    }
    // A referral (NS in authority), or an authoritative answer when the parent's server
    // also serves the child zone.
    const ns = nsNames(m.authority, zone).length > 0 ? nsNames(m.authority, zone) : nsNames(m.answer, zone);
    const delegation: ZoneServers['delegation'] = ns.length > 0 ? observed({ ns, server: server.label }) : { ok: false, error: `the parent ${parent || '.'} (${server.label}) serves no delegation for ${zone}`, code: 'NODATA' };
    const dsProbe = await dns.ask(server.address, zone, TYPE.DS);
    let ds: ZoneServers['ds'];
    if (!dsProbe.ok) ds = { ok: false, error: `${server.label}: ${dsProbe.error}`, code: dsProbe.code };
    else if (dsProbe.value.rcode !== 0 && dsProbe.value.rcode !== 3) ds = { ok: false, error: `${server.label} answered ${rcodeName(dsProbe.value.rcode)} for ${zone} DS`, code: rcodeName(dsProbe.value.rcode) };
    else {
      const answer = dsProbe.value.answer.filter((r) => r.owner.text === zone);
      ds = observed({ records: answer.filter((r) => r.type === TYPE.DS), rrsigs: answer.filter((r) => r.type === TYPE.RRSIG), server: server.label });
    }
    return { delegation, ds };
  }
  return { delegation: lastError, ds: lastError };
}

function soaOf(probe: Awaited<ReturnType<AuditDns['ask']>>, zone: string): Observed<SoaObservation> {
  if (!probe.ok) return probe;
  const m = probe.value;
  const soa = m.answer.find((r) => r.type === TYPE.SOA && r.owner.text === zone);
  return observed({
    rcode: rcodeName(m.rcode),
    authoritative: (m.flags & 0x0400) !== 0,
    referral: (m.flags & 0x0400) === 0 && m.authority.some((r) => r.type === TYPE.NS),
    ...(soa ? { serial: rdataOf.soa(soa.rdata).serial } : {}),
  });
}

/** What `preferred` means: authoritative NOERROR with an SOA, highest serial first. */
function preferredOrder(soa: ZoneServers['soa']): ServerRef[] {
  const good = soa.filter((s) => s.soa.ok && s.soa.value.authoritative && s.soa.value.rcode === 'NOERROR' && s.soa.value.serial !== undefined);
  const serial = (s: (typeof good)[number]) => (s.soa.ok ? s.soa.value.serial! : 0);
  return [...good].sort((a, b) => (serialGreater(serial(a), serial(b)) ? -1 : serialGreater(serial(b), serial(a)) ? 1 : 0)).map((s) => s.server);
}

async function discover(dns: AuditDns, zone: string): Promise<ZoneServers> {
  const parent = zone === '' ? undefined : parentName(zone);
  const { delegation, ds } = parent === undefined ? { delegation: { ok: false as const, error: 'the root zone has no parent', code: 'OTHER' }, ds: { ok: false as const, error: 'the root zone has no parent', code: 'OTHER' } } : await delegationOf(dns, zone, parent);
  let names: string[] = delegation.ok ? [...delegation.value.ns] : [];
  if (names.length === 0) {
    // Without the parent's view, the resolver's NS answer is the best list there is.
    const viaResolver = await observe(async () => (await dns.lookup.query(zone || '.', 'NS')).records);
    if (viaResolver.ok) names = [...new Set(viaResolver.value)].sort();
  }
  const infos = new Map<string, NameserverInfo>();
  const servers: ServerRef[] = [];
  const addNames = async (list: readonly string[], inDelegation: boolean, inZone: boolean) => {
    await Promise.all(
      list
        .filter((n) => !infos.has(n))
        .map(async (n) => {
          const a = await addresses(dns, n);
          infos.set(n, { name: n, inDelegation, inZone, v4: a.v4, v6: a.v6 });
          servers.push(...refs(n, a.v4, a.v6));
        }),
    );
  };
  await addNames(names, delegation.ok, false);
  const soaProbes = async (list: readonly ServerRef[]) => Promise.all(list.map(async (server) => ({ server, soa: soaOf(await dns.ask(server.address, zone || '.', TYPE.SOA), zone) })));
  let soa = await soaProbes(servers);
  let preferred = preferredOrder(soa);
  let zoneNs: ZoneServers['zoneNs'] = { ok: false, error: `no server answered authoritatively for ${zone}`, code: 'NOTAUTH' };
  for (const s of preferred) {
    const p = await dns.ask(s.address, zone || '.', TYPE.NS);
    if (!p.ok) continue;
    const ns = nsNames(p.value.answer, zone);
    if (ns.length > 0) {
      zoneNs = observed({ ns, server: s.label });
      break;
    }
  }
  if (zoneNs.ok) {
    for (const n of zoneNs.value.ns) {
      const info = infos.get(n);
      if (info) infos.set(n, { ...info, inZone: true });
    }
    const extra = zoneNs.value.ns.filter((n) => !infos.has(n));
    if (extra.length > 0) {
      const before = servers.length;
      await addNames(extra, false, true);
      soa = [...soa, ...(await soaProbes(servers.slice(before)))];
      preferred = preferredOrder(soa);
    }
  }
  const order = (a: ServerRef, b: ServerRef) => a.nameserver.localeCompare(b.nameserver) || a.family - b.family || a.address.host.localeCompare(b.address.host);
  servers.sort(order);
  soa.sort((a, b) => order(a.server, b.server));
  return {
    zone,
    ...(parent === undefined ? {} : { parent }),
    delegation,
    ds,
    zoneNs,
    nameservers: [...infos.values()].sort((a, b) => a.name.localeCompare(b.name)),
    servers,
    soa,
    preferred,
  };
}

/** The zone's servers, discovered once per run. */
export function zoneServers(dns: AuditDns, zone: string): Promise<ZoneServers> {
  let p = dns.zones.get(zone) as Promise<ZoneServers> | undefined;
  if (!p) {
    p = discover(dns, zone);
    dns.zones.set(zone, p);
  }
  return p;
}
