/**
 * Report destinations from the policy's `rua` (RFC 7489 §6.2, RFC 9990 §4): only `mailto:`
 * URIs, an optional `!size` limit (`!10m`), and the external destination verification of
 * RFC 9990 §6 / RFC 7489 §7.1 (`<policy-domain>._report._dmarc.<dest-host>` TXT `v=DMARC1`).
 */
import type { DnsLookup } from '../dns/types.ts';
import { DnsError } from '../dns/types.ts';

export interface Destination {
  readonly uri: string;
  /** Lower-cased domain; the local part keeps its case. */
  readonly address: string;
  readonly domain: string;
  /** Largest message the destination accepts, in bytes, if it said. */
  readonly maxSize?: number;
}

const UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** Parses one rua URI; returns a reason string when it is not usable. */
export function parseRua(uri: string): Destination | string {
  const text = uri.trim();
  const m = /^mailto:([^!]+?)(?:!(\d+)([kmgt]?))?$/i.exec(text);
  if (!m) return /^[a-z][a-z0-9+.-]*:/i.test(text) && !/^mailto:/i.test(text) ? `unsupported URI scheme in ${text} (only mailto:)` : `malformed URI ${text}`;
  let addr: string;
  try {
    addr = decodeURIComponent(m[1]!.split('?')[0]!);
  } catch {
    return `malformed URI ${text}`;
  }
  const at = addr.lastIndexOf('@');
  if (at <= 0 || at === addr.length - 1 || /[\s<>,;]/.test(addr)) return `malformed address in ${text}`;
  const domain = addr.slice(at + 1).toLowerCase().replace(/\.$/, '');
  if (!/^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/.test(domain)) return `malformed domain in ${text}`;
  const address = `${addr.slice(0, at)}@${domain}`;
  const size = m[2] === undefined ? undefined : Number(m[2]) * UNITS[(m[3] ?? '').toLowerCase()]!;
  return size === undefined ? { uri: text, address, domain } : { uri: text, address, domain, maxSize: size };
}

/**
 * True when a report about `policyDomain` to `destDomain` needs the external check. RFC 9990
 * compares Organizational Domains; without a public-suffix list we treat the destination as
 * internal only when one name is the other or a subdomain of it. Erring this way costs at
 * worst one DNS lookup (and a skipped report if the owner did not authorise it), never a
 * report to an unauthorised third party.
 */
export function isExternal(policyDomain: string, destDomain: string): boolean {
  const a = policyDomain.toLowerCase().replace(/\.$/, '');
  const b = destDomain.toLowerCase().replace(/\.$/, '');
  return !(a === b || a.endsWith(`.${b}`) || b.endsWith(`.${a}`));
}

/**
 * `unauthorized`: the destination has not (yet) published its consent record. That is
 * what a domain owner who points `rua=` at another domain meets first — RFC 9990 §6 is
 * news to most (the seeds' hoster found out by testing) — and fixes a day later; so the
 * send job keeps such a delivery and asks again on later runs (`reports.authorization_retry`).
 * `refused` is final: the destination answered, and its answer forbids the report.
 */
export type Verification =
  | { readonly kind: 'internal' }
  | { readonly kind: 'authorized'; readonly name: string; readonly override?: readonly string[] }
  | { readonly kind: 'unauthorized'; readonly name: string; readonly reason: string }
  | { readonly kind: 'refused'; readonly name: string; readonly reason: string }
  | { readonly kind: 'temporary'; readonly name: string; readonly reason: string };

/** RFC 9990 §6 steps 1–9 for one destination. */
export async function verifyDestination(dns: DnsLookup, policyDomain: string, dest: Destination): Promise<Verification> {
  if (!isExternal(policyDomain, dest.domain)) return { kind: 'internal' };
  const name = `${policyDomain.toLowerCase()}._report._dmarc.${dest.domain}`;
  if (name.length > 253 || name.split('.').some((l) => l.length > 63)) {
    return { kind: 'refused', name, reason: `${name} exceeds DNS name limits` };
  }
  let records: readonly (readonly string[])[];
  try {
    const answer = await dns.query(name, 'TXT');
    if (answer.rcode === 'NXDOMAIN') return { kind: 'unauthorized', name, reason: `external destination not authorised: ${name} does not exist` };
    records = answer.records;
  } catch (err) {
    if (err instanceof DnsError) return { kind: 'temporary', name, reason: `DNS ${err.code} for ${name}` };
    throw err;
  }
  const valid = records.map((r) => r.join('')).filter((t) => /^v\s*=\s*DMARC1\s*(;|$)/.test(t));
  if (valid.length === 0) return { kind: 'unauthorized', name, reason: `external destination not authorised: no TXT "v=DMARC1" at ${name}` };
  // Step 9: the consumer may override the destination, but only on the same host.
  for (const txt of valid) {
    const rua = /(?:^|;)\s*rua\s*=\s*([^;]*)/i.exec(txt)?.[1];
    if (!rua) continue;
    const uris = rua.split(',').map((s) => s.trim()).filter(Boolean);
    const parsed = uris.map(parseRua);
    if (parsed.some((p) => typeof p === 'string' || p.domain !== dest.domain)) {
      return { kind: 'refused', name, reason: `the authorising record at ${name} overrides rua with another host; no report (RFC 9990 §6)` };
    }
    return { kind: 'authorized', name, override: uris };
  }
  return { kind: 'authorized', name };
}

/** Suppression entries: an address matches itself; a domain matches itself and subdomains. */
export function suppressedBy(address: string, entries: readonly string[]): string | undefined {
  const a = address.toLowerCase();
  const domain = a.slice(a.lastIndexOf('@') + 1);
  for (const raw of entries) {
    const e = raw.toLowerCase().trim().replace(/^mailto:/, '');
    if (!e) continue;
    if (e.includes('@') ? e === a : domain === e || domain.endsWith(`.${e}`)) return raw;
  }
  return undefined;
}
