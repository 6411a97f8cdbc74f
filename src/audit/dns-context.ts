/**
 * The DNS an audit run sees, shared by every domain of the run:
 *
 * - `lookup`: the recursive resolver with CD set (RFC 4035 §3.2.2), so a zone with broken
 *   DNSSEC can still be read and every other check judges its records; the dnssec check
 *   alone says what is wrong with the signatures (and asks `validating`, the same servers
 *   without CD, for the AD bit or the SERVFAIL a bogus zone gets).
 * - `ask`: one question to one authoritative server (RD=0, DO=1), cached for the run so
 *   the checks that read the same RRset from the same server cost one query.
 * - `zoneOf` / `zone`: where a name's zone starts, and that zone's delegation and servers
 *   (`zone-servers.ts`), each found once per run however many domains share them (a
 *   hoster's MX zone, a TLD).
 *
 * Queries are counted per domain: the runner runs each domain inside `queryCounter.run`,
 * and the transport adds to whatever counter the current async context carries.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { queryWire } from '../dns/wire-query.ts';
import { networkTransport, type DnsTransport } from '../dns/transport.ts';
import { DnsError, type DnsLookup, type DnsServer } from '../dns/types.ts';
import { TYPE, wireName, type WireMessage } from '../dns/wire.ts';
import { failed, observed, type Observed } from './types.ts';

export interface QueryCount {
  queries: number;
}

/** The per-domain query counter (AsyncLocalStorage: follows the domain's promises). */
export const queryCounter = new AsyncLocalStorage<QueryCount>();

/** Wraps a transport so every exchange on the wire counts for the current domain. */
export function countingTransport(base: DnsTransport = networkTransport): DnsTransport & { total(): number } {
  let total = 0;
  const t = (async (server, request, options) => {
    total++;
    const c = queryCounter.getStore();
    if (c) c.queries++;
    return base(server, request, options);
  }) as DnsTransport & { total(): number };
  t.total = () => total;
  return t;
}

export interface AuditDnsOptions {
  /** Resolver with CD set (see above). */
  readonly lookup: DnsLookup;
  /** The same resolvers without CD. */
  readonly validating: DnsLookup;
  /** Their addresses, for the SOA walk in `zoneOf`. */
  readonly resolvers: readonly DnsServer[];
  /** The wire (counted); tests may pass a fake. */
  readonly transport: DnsTransport;
  /** Per query to an authoritative server. */
  readonly timeoutMs: number;
  /** Per query to a resolver (the SOA walk of `zoneOf`): a resolver may itself wait on a slow server. Default 2 × timeoutMs. */
  readonly resolverTimeoutMs?: number;
}

/**
 * Replies kept per run: a domain needs about 40 and zones shared by many domains stay in
 * use, so this bounds memory for thousands of domains without costing repeat queries.
 */
const MAX_PROBES = 20_000;

/** A reply from one authoritative server, or why there is none. */
export type Probe = Observed<WireMessage>;

export class AuditDns {
  readonly lookup: DnsLookup;
  readonly validating: DnsLookup;
  readonly resolvers: readonly DnsServer[];
  readonly transport: DnsTransport;
  readonly timeoutMs: number;
  readonly resolverTimeoutMs: number;
  readonly #probes = new Map<string, Promise<Probe>>();
  /** Servers that did not answer at all (after the retry): later questions fail at once. */
  readonly #silent = new Map<string, string>();
  readonly #zoneOf = new Map<string, Promise<{ zone: string; nxdomain: boolean }>>();
  /** Zone discovery results keyed by zone (filled by zone-servers.ts). */
  readonly zones = new Map<string, Promise<unknown>>();

  constructor(o: AuditDnsOptions) {
    this.lookup = o.lookup;
    this.validating = o.validating;
    this.resolvers = o.resolvers;
    this.transport = o.transport;
    this.timeoutMs = o.timeoutMs;
    this.resolverTimeoutMs = o.resolverTimeoutMs ?? 2 * o.timeoutMs;
  }

  /**
   * (name, type) from one server, RD=0, DO=1; a timeout or network error is tried once
   * more. The reply whatever its rcode (the caller judges REFUSED, SERVFAIL …); failures
   * as `ok: false`. Never throws.
   */
  ask(server: DnsServer, name: string, type: number): Promise<Probe> {
    const key = `${server.host}|${server.port}|${name.toLowerCase()}|${type}`;
    let p = this.#probes.get(key);
    if (p) {
      // Least recently used goes first when the bound is reached.
      this.#probes.delete(key);
      this.#probes.set(key, p);
      return p;
    }
    p = this.#askOnce(server, name, type);
    this.#probes.set(key, p);
    while (this.#probes.size > MAX_PROBES) this.#probes.delete(this.#probes.keys().next().value!);
    return p;
  }

  async #askOnce(server: DnsServer, name: string, type: number): Promise<Probe> {
    const id = `${server.host}|${server.port}`;
    for (let attempt = 1; ; attempt++) {
      const silent = this.#silent.get(id);
      // One server that does not answer must not cost timeout × queries for every RRset.
      if (silent !== undefined) return { ok: false, error: `no answer earlier in this run (${silent})`, code: 'TIMEOUT' };
      try {
        return observed(await queryWire(server, name, type, { dnssec: true, recursionDesired: false, timeoutMs: this.timeoutMs, transport: this.transport }));
      } catch (err) {
        if (err instanceof DnsError && err.code === 'TIMEOUT') {
          if (attempt < 2) continue;
          this.#silent.set(id, err.message);
        }
        if (attempt < 2 && err instanceof DnsError && err.code === 'NETWORK') continue;
        return failed(err);
      }
    }
  }

  /**
   * The apex of the zone `name` is in: the owner of the SOA in the answer (name is an apex)
   * or in the authority section of the NODATA/NXDOMAIN (RFC 2308 §3), asked of the resolvers
   * with RD=1 and CD=1. Throws `DnsError` when no resolver answers usefully.
   */
  async zoneOf(name: string): Promise<string> {
    return (await this.zoneInfo(name)).zone;
  }

  /** `zoneOf`, and whether the name itself does not exist (NXDOMAIN, RFC 8020). */
  zoneInfo(name: string): Promise<{ zone: string; nxdomain: boolean }> {
    const n = wireName(name).text;
    let p = this.#zoneOf.get(n);
    if (!p) {
      p = this.#findZone(n);
      this.#zoneOf.set(n, p);
      p.catch(() => this.#zoneOf.delete(n));
    }
    return p;
  }

  async #findZone(name: string): Promise<{ zone: string; nxdomain: boolean }> {
    let last: unknown;
    // Each resolver in turn, the list twice (as the resolver's own `attempts`).
    for (const server of [...this.resolvers, ...this.resolvers]) {
      try {
        const m = await queryWire(server, name, TYPE.SOA, { recursionDesired: true, checkingDisabled: true, timeoutMs: this.resolverTimeoutMs, transport: this.transport });
        if (m.rcode !== 0 && m.rcode !== 3) throw new DnsError(m.rcode === 2 ? 'SERVFAIL' : m.rcode === 5 ? 'REFUSED' : 'OTHER', `resolver answered rcode ${m.rcode} for ${name} SOA`, { name });
        const soa = m.answer.find((r) => r.type === TYPE.SOA) ?? m.authority.find((r) => r.type === TYPE.SOA);
        if (!soa) throw new DnsError('OTHER', `no SOA in the answer or authority for ${name}: cannot tell which zone it is in`, { name });
        // An answer reached through a CNAME names the target's zone: the zone of `name`
        // itself is then found from its parent (a CNAME cannot be at an apex).
        if (m.answer.some((r) => r.type === TYPE.CNAME && r.owner.text === name)) return { zone: await this.zoneOf(name.split('.').slice(1).join('.')), nxdomain: false };
        return { zone: soa.owner.text, nxdomain: m.rcode === 3 };
      } catch (err) {
        last = err;
      }
    }
    throw last instanceof DnsError ? last : new DnsError('OTHER', `cannot find the zone of ${name}: ${String(last)}`, { name }, { cause: last });
  }
}
