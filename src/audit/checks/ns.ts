/**
 * `ns`: the delegation at the parent and the zone's own NS RRset agree (RFC 1034 §4.2.2),
 * every nameserver has IPv4 and IPv6 addresses, every address answers authoritatively with
 * the same SOA serial (lame and lagging servers named), and every mail record the audit
 * read from the zone — MX, SPF, DMARC, DKIM selectors, TLSA, _mta-sts, _smtp._tls — is
 * identical on every server: the seeds' lesson that a change counts only once all servers
 * serve it (zonemaster compares SOA, NS, MX and SPF only; internet.nl none). Pure.
 */
import { result, type CheckResult, type Observed } from '../types.ts';
import { serialGreater, type ZoneServers } from '../zone-servers.ts';

export interface RrsetComparison {
  /** The zone whose servers were compared (the domain's, or an MX host's for TLSA). */
  readonly zone: string;
  readonly name: string;
  readonly type: string;
  /** Per server: a canonical text of what it serves, `referral`, or the failure. */
  readonly answers: readonly { readonly server: string; readonly answer: Observed<string> }[];
}

export interface NsObservation {
  readonly domain: string;
  readonly zone: Observed<ZoneServers>;
  readonly rrsets: readonly RrsetComparison[];
}

const r = result('ns');

const list = (names: readonly string[]): string => names.join(', ');

export function judgeNs(o: NsObservation): CheckResult[] {
  if (!o.zone.ok) return [r.error(o.domain, `cannot find the zone or its servers: ${o.zone.error}`)];
  const z = o.zone.value;
  const zone = z.zone;
  const out: CheckResult[] = [];
  // 1. Delegation against the zone's own NS set.
  if (!z.delegation.ok) out.push(z.delegation.code === 'NXDOMAIN' ? r.fail(zone, z.delegation.error, `register the domain / ask the parent ${z.parent ?? ''} to delegate it`) : r.error(zone, `delegation not known: ${z.delegation.error}`));
  if (!z.zoneNs.ok) out.push(r.error(zone, `the zone's own NS set not known: ${z.zoneNs.error}`));
  if (z.delegation.ok && z.zoneNs.ok) {
    const parent = new Set(z.delegation.value.ns);
    const child = new Set(z.zoneNs.value.ns);
    const onlyParent = [...parent].filter((n) => !child.has(n));
    const onlyChild = [...child].filter((n) => !parent.has(n));
    if (onlyParent.length || onlyChild.length) {
      out.push(
        r.warn(
          zone,
          `the delegation (${list([...parent])}, from ${z.delegation.value.server}) and the zone's NS set (${list([...child])}) differ${onlyParent.length ? `; only at the parent: ${list(onlyParent)}` : ''}${onlyChild.length ? `; only in the zone: ${list(onlyChild)}` : ''}`,
          `make both the same: in the zone "${zone}. IN NS …" for each of ${list([...new Set([...parent, ...child])])}, and the same list at the registrar`,
        ),
      );
    }
  }
  // 2. Addresses per nameserver.
  for (const ns of z.nameservers) {
    if (!ns.v4.ok || !ns.v6.ok) {
      out.push(r.error(ns.name, `address lookup failed: ${!ns.v4.ok ? `A: ${ns.v4.error}` : ''}${!ns.v4.ok && !ns.v6.ok ? '; ' : ''}${!ns.v6.ok ? `AAAA: ${ns.v6.error}` : ''}`));
      continue;
    }
    if (ns.v4.value.length === 0 && ns.v6.value.length === 0) out.push(r.fail(ns.name, `nameserver ${ns.name} has no address`, `${ns.name}. IN A <address> (and AAAA), or remove it from the NS set`));
    else if (ns.v6.value.length === 0) out.push(r.warn(ns.name, `no IPv6 address (A ${list(ns.v4.value)}): resolvers on IPv6-only networks cannot reach it`, `${ns.name}. IN AAAA <IPv6 address> (and glue at the registrar if it is in-bailiwick)`));
    else if (ns.v4.value.length === 0) out.push(r.warn(ns.name, `no IPv4 address (AAAA ${list(ns.v6.value)})`, `${ns.name}. IN A <IPv4 address>`));
  }
  // 3. Each address: authoritative, and its serial.
  const serials: { server: string; serial: number }[] = [];
  for (const { server, soa } of z.soa) {
    if (!soa.ok) {
      out.push(r.error(server.label, `no usable answer to SOA ${zone || '.'}: ${soa.error}`));
      continue;
    }
    const s = soa.value;
    if (s.rcode !== 'NOERROR' && s.rcode !== 'NXDOMAIN') {
      // REFUSED, SERVFAIL …: lame, or a server that will not answer us (an ACL); we cannot tell which.
      out.push(r.error(server.label, `answers ${s.rcode} for SOA ${zone || '.'}: it is listed as a nameserver of ${zone} but gives no answer (lame, or it refuses our address)`));
      continue;
    }
    if (!s.authoritative || s.rcode !== 'NOERROR' || s.serial === undefined) {
      const why = s.referral ? 'refers the query elsewhere' : !s.authoritative ? 'answers without the AA bit' : s.rcode !== 'NOERROR' ? `answers ${s.rcode}` : 'serves no SOA';
      out.push(r.fail(server.label, `lame: ${why} — it is listed as a nameserver of ${zone} but does not serve the zone`, `load the zone on ${server.nameserver} (${server.address.host}), or remove ${server.nameserver} from the NS set and the delegation`));
      continue;
    }
    serials.push({ server: server.label, serial: s.serial });
  }
  const newest = serials.reduce<number | undefined>((m, s) => (m === undefined || serialGreater(s.serial, m) ? s.serial : m), undefined);
  for (const s of serials) {
    if (newest !== undefined && serialGreater(newest, s.serial)) {
      out.push(r.warn(s.server, `lagging: SOA serial ${s.serial}, other servers serve ${newest} — changes since then are not on this server`, `check the transfer to this server (NOTIFY, IXFR/AXFR from the primary; e.g. \`knotc zone-refresh ${zone}\` on it, or \`rndc retransfer ${zone}\`)`));
    }
  }
  // 4. Every mail record read, compared across servers.
  let compared = 0;
  for (const c of o.rrsets) {
    const ok = c.answers.filter((a) => a.answer.ok) as { server: string; answer: { ok: true; value: string } }[];
    const groups = new Map<string, string[]>();
    for (const a of ok) groups.set(a.answer.value, [...(groups.get(a.answer.value) ?? []), a.server]);
    const subject = `${c.name} ${c.type}${c.zone !== zone ? ` (zone ${c.zone})` : ''}`;
    for (const a of c.answers) if (!a.answer.ok) out.push(r.error(subject, `${a.server}: ${a.answer.error}`));
    if (groups.size > 1) {
      const detail = [...groups.entries()].map(([v, servers]) => `${list(servers)}: ${v.length > 160 ? `${v.slice(0, 160)}…` : v}`).join(' | ');
      out.push(r.fail(subject, `the servers disagree — ${detail}`, 'a change counts only once every server serves it: fix the transfer to the servers with old data (see lagging serials), then check again'));
    } else if (groups.size === 1) compared++;
  }
  if (!out.some((x) => x.status !== 'ok')) {
    const v4 = z.servers.filter((s) => s.family === 4).length;
    const v6 = z.servers.length - v4;
    out.push(r.ok(zone, `${z.nameservers.length} nameservers (${list(z.nameservers.map((n) => n.name))}), ${v4} IPv4 and ${v6} IPv6 addresses, all authoritative with serial ${newest ?? '?'}; ${compared} mail RRsets identical on every server`));
  }
  return out;
}
