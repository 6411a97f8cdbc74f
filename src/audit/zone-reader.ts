/**
 * Reading records the way the audit judges them. Names inside the audited zone come from
 * its authoritative servers directly (the freshest one that answers authoritatively, see
 * `ZoneServers.preferred`), so every check sees what the zone serves now — not a cached
 * copy, and not nothing when the zone's DNSSEC is broken. Every such (name, type) is
 * remembered, and the ns check later compares it across all servers ("a change counts only
 * once every server serves it"). Names outside the zone, a delegated subzone, or a CNAME
 * target elsewhere go to the recursive resolver.
 */
import { normalizeName } from '../dns/message.ts';
import { toDnsAnswer, typeNumber } from '../dns/wire-query.ts';
import { DnsError, type DnsAnswer, type DnsLookup, type QueryOptions, type RRType } from '../dns/types.ts';
import { FLAG, TYPE } from '../dns/wire.ts';
import { isSubdomainOf } from '../mail/domain.ts';
import type { AuditDns } from './dns-context.ts';
import { failed, observed, toDnsError, type Observed } from './types.ts';
import type { ServerRef, ZoneServers } from './zone-servers.ts';

export interface ServerAnswer<T extends RRType = RRType> {
  readonly server: ServerRef;
  /** `referral`: the server does not hold the name itself (a delegated subzone). */
  readonly answer: Observed<DnsAnswer<T> | 'referral'>;
}

function fromProbe<T extends RRType>(probe: Awaited<ReturnType<AuditDns['ask']>>, server: ServerRef, name: string, type: T): Observed<DnsAnswer<T> | 'referral'> {
  if (!probe.ok) return probe;
  const m = probe.value;
  if ((m.flags & FLAG.AA) === 0 && m.rcode === 0 && m.answer.length === 0 && m.authority.some((r) => r.type === TYPE.NS)) return observed('referral');
  try {
    const a = toDnsAnswer(m, server.label, name, type);
    if (!a.authoritative) return { ok: false, error: `${server.label} answered without the AA bit: not authoritative (lame)`, code: 'NOTAUTH' };
    return observed(a);
  } catch (err) {
    return failed(err);
  }
}

/**
 * (name, type) from every server of the zone that answered its SOA authoritatively, in the
 * zone's server order. Servers that are lame, silent or answer garbage are the ns check's
 * findings (once), not a failure of every record on them.
 */
export async function readEvery<T extends RRType>(dns: AuditDns, zone: ZoneServers, name: string, type: T): Promise<ServerAnswer<T>[]> {
  const answering = zone.servers.filter((s) => zone.preferred.includes(s));
  return Promise.all(answering.map(async (server) => ({ server, answer: fromProbe(await dns.ask(server.address, name, typeNumber(type)), server, name, type) })));
}

/** (name, type) from the freshest authoritative server that answers; `referral` for a delegated name. */
export async function readPreferred<T extends RRType>(dns: AuditDns, zone: ZoneServers, name: string, type: T): Promise<DnsAnswer<T> | 'referral'> {
  let last: Observed<never> | undefined;
  for (const server of zone.preferred) {
    const a = fromProbe(await dns.ask(server.address, name, typeNumber(type)), server, name, type);
    if (a.ok) return a.value;
    last = a;
  }
  if (last && !last.ok) throw toDnsError(last, { zone: zone.zone, name });
  throw new DnsError('NOTAUTH', `no server of ${zone.zone || '.'} answered authoritatively`, { zone: zone.zone, name });
}

/** A `DnsLookup` for one domain's checks: its zone from the authoritative servers, the rest from the resolver. */
export class ZoneLookup implements DnsLookup {
  readonly #dns: AuditDns;
  readonly #zone: ZoneServers;
  /** `name|TYPE` of every record read from the zone's servers, for the ns check. */
  readonly read = new Set<string>();

  constructor(dns: AuditDns, zone: ZoneServers) {
    this.#dns = dns;
    this.#zone = zone;
  }

  get zone(): ZoneServers {
    return this.#zone;
  }

  async query<T extends RRType>(rawName: string, type: T, options: QueryOptions = {}): Promise<DnsAnswer<T>> {
    const name = normalizeName(rawName);
    // A question about the AD bit is the validating resolver's to answer.
    if (options.dnssec) return this.#dns.validating.query(name, type, options);
    if (this.#zone.preferred.length > 0 && isSubdomainOf(name, this.#zone.zone)) {
      const a = await readPreferred(this.#dns, this.#zone, name, type);
      if (a !== 'referral') {
        this.read.add(`${name}|${type}`);
        const target = a.canonicalName ?? name;
        if (a.records.length === 0 && a.cnameChain.length > 0 && !isSubdomainOf(target, this.#zone.zone)) {
          // The zone serves the CNAME; the target lives elsewhere.
          const rest = await this.#dns.lookup.query(target, type, options);
          return { ...rest, name, cnameChain: [...a.cnameChain, ...rest.cnameChain] };
        }
        return a;
      }
    }
    return this.#dns.lookup.query(name, type, options);
  }
}
