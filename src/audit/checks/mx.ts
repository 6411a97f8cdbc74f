/**
 * `mx`: every MX host has addresses, IPv4 and IPv6 (internet.nl's mail test asks for both).
 * Pure: observations in, results out.
 *
 * - Null MX (`0 .`, RFC 7505): the domain takes no mail; fine alone, wrong beside other MX.
 * - No MX: senders fall back to the domain's own A/AAAA (RFC 5321 §5.1); that works but
 *   is rarely meant, so it is a warning with the MX (or null MX) to publish.
 * - An MX target must be a host name with A/AAAA, not a CNAME (RFC 2181 §10.3) and not an
 *   address literal (RFC 7505 §3 discusses `0 .`; RFC 5321 §5.1 needs a name).
 */
import { isIP } from 'node:net';
import type { MxRecord } from '../../dns/types.ts';
import { result, type CheckResult, type Observed } from '../types.ts';

export interface MxHostObservation {
  readonly name: string;
  readonly priority: number;
  readonly a: Observed<readonly string[]>;
  readonly aaaa: Observed<readonly string[]>;
  /** Set when the MX target is an alias: where its CNAME points. */
  readonly cname?: string;
}

export interface MxObservation {
  readonly domain: string;
  readonly mx: Observed<{ readonly rcode: 'NOERROR' | 'NXDOMAIN'; readonly records: readonly MxRecord[] }>;
  /** The MX hosts audited (highest priority first, at most `maxHosts`). */
  readonly hosts: readonly MxHostObservation[];
  /** MX records beyond `maxHosts` that were not audited. */
  readonly omitted: number;
  /** Without MX: the domain's own addresses (the implicit MX). */
  readonly implicit?: { readonly a: Observed<readonly string[]>; readonly aaaa: Observed<readonly string[]> };
}

const r = result('mx');

export const isNullMx = (records: readonly MxRecord[]): boolean => records.some((m) => m.exchange === '' || m.exchange === '.');

export function judgeMx(o: MxObservation): CheckResult[] {
  if (!o.mx.ok) return [r.error(o.domain, `MX lookup failed: ${o.mx.error}`)];
  const { rcode, records } = o.mx.value;
  if (rcode === 'NXDOMAIN') return [r.fail(o.domain, `${o.domain} does not exist (NXDOMAIN)`, `create the zone or fix the domain name`)];
  if (isNullMx(records)) {
    if (records.length === 1) return [r.ok(o.domain, 'null MX (0 .): the domain accepts no mail (RFC 7505)')];
    return [r.fail(o.domain, `null MX (0 .) beside ${records.length - 1} other MX record(s): RFC 7505 §3 forbids mixing them`, `remove either the "0 ." record or the others`)];
  }
  if (records.length === 0) {
    const imp = o.implicit;
    const addrs = imp ? [...(imp.a.ok ? imp.a.value : []), ...(imp.aaaa.ok ? imp.aaaa.value : [])] : [];
    if (imp && (!imp.a.ok || !imp.aaaa.ok) && addrs.length === 0) return [r.error(o.domain, `no MX; the address lookup for the implicit MX failed: ${!imp.a.ok ? imp.a.error : !imp.aaaa.ok ? imp.aaaa.error : ''}`)];
    if (addrs.length > 0) {
      return [r.warn(o.domain, `no MX record: senders use the domain's own address${addrs.length > 1 ? 'es' : ''} (${addrs.join(', ')}) as implicit MX (RFC 5321 §5.1)`, `${o.domain}. IN MX 10 <your mail server>.  (or "${o.domain}. IN MX 0 ." if the domain takes no mail, RFC 7505)`)];
    }
    return [r.fail(o.domain, 'no MX record and no address: mail to this domain cannot be delivered', `${o.domain}. IN MX 10 <your mail server>.  (or "${o.domain}. IN MX 0 ." if it takes no mail)`)];
  }
  const out: CheckResult[] = [];
  for (const h of o.hosts) {
    const subject = h.name;
    if (isIP(h.name.replace(/\.$/, '')) !== 0 || /^\[.*\]$/.test(h.name)) {
      out.push(r.fail(subject, `MX ${h.priority} ${h.name} is an address, not a host name (RFC 5321 §5.1)`, `${o.domain}. IN MX ${h.priority} <host name>. with "<host name>. IN A ${h.name}"`));
      continue;
    }
    if (!h.a.ok && !h.aaaa.ok) {
      out.push(r.error(subject, `address lookups failed: A: ${h.a.error}; AAAA: ${h.aaaa.error}`));
      continue;
    }
    const v4 = h.a.ok ? h.a.value : [];
    const v6 = h.aaaa.ok ? h.aaaa.value : [];
    const lookupError = !h.a.ok ? `A lookup failed: ${h.a.error}` : !h.aaaa.ok ? `AAAA lookup failed: ${h.aaaa.error}` : undefined;
    const alias = h.cname ? ` — and it is an alias (CNAME to ${h.cname}), which RFC 2181 §10.3 forbids for MX targets` : '';
    if (v4.length === 0 && v6.length === 0) {
      out.push(lookupError ? r.error(subject, `no address found; ${lookupError}`) : r.fail(subject, `MX ${h.priority} ${h.name} has no A or AAAA record: mail cannot reach it${alias}`, `${h.name}. IN A <IPv4 address> and ${h.name}. IN AAAA <IPv6 address>`));
      continue;
    }
    const list = `A ${v4.join(', ') || '-'}; AAAA ${v6.join(', ') || '-'}`;
    if (lookupError) out.push(r.error(subject, `${list}; ${lookupError}`));
    else if (h.cname) out.push(r.warn(subject, `${list}${alias}`, `point the MX at ${h.cname} itself: ${o.domain}. IN MX ${h.priority} ${h.cname}.`));
    else if (v6.length === 0) out.push(r.warn(subject, `${list}: no IPv6 address, senders on IPv6-only networks cannot reach it`, `${h.name}. IN AAAA <IPv6 address>  (and its PTR, see the ptr check)`));
    else if (v4.length === 0) out.push(r.warn(subject, `${list}: no IPv4 address, most senders cannot reach it`, `${h.name}. IN A <IPv4 address>`));
    else out.push(r.ok(subject, `MX ${h.priority}: ${list}`));
  }
  if (o.omitted > 0) out.push(r.warn(o.domain, `${records.length} MX records; only the ${o.hosts.length} of highest priority were audited`, 'fewer MX hosts: senders try a handful at most (Postfix: smtp_mx_address_limit = 5)'));
  return out;
}
