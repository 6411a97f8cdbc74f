/**
 * Fetching a DKIM key (RFC 6376 §3.6.2: TXT at `<selector>._domainkey.<domain>`) through the
 * caching resolver, with the parsed KeyObject cached per record text: the resolver keeps
 * the answer for its TTL, this keeps the expensive parse for as long as the text is the
 * same (bounded, least recently used dropped). ARC uses the same lookup (RFC 8617 §4.1.3).
 */
import { DnsError, type DnsLookup } from '../../dns/types.ts';
import { parseKeyRecord, type DkimPublicKey, type KeyRecordParse } from './key-record.ts';

export type KeyLookup =
  | { readonly kind: 'found'; readonly keys: readonly DkimPublicKey[]; readonly ttl: number }
  /** NXDOMAIN/NODATA: "no key for signature" — PERMFAIL (§6.1.2 step 3). */
  | { readonly kind: 'missing'; readonly reason: string }
  /** Records exist but none is a usable key (syntax, revoked, wrong service). */
  | { readonly kind: 'invalid'; readonly reason: string }
  /** DNS failed (timeout, SERVFAIL, budget spent): TEMPFAIL (§6.1.2 step 2). */
  | { readonly kind: 'temperror'; readonly reason: string };

export class KeyParseCache {
  readonly #max: number;
  readonly #map = new Map<string, KeyRecordParse>();

  constructor(maxEntries = 5000) {
    this.#max = maxEntries;
  }

  parse(text: string): KeyRecordParse {
    const hit = this.#map.get(text);
    if (hit) {
      this.#map.delete(text);
      this.#map.set(text, hit);
      return hit;
    }
    const parsed = parseKeyRecord(text);
    this.#map.set(text, parsed);
    if (this.#map.size > this.#max) this.#map.delete(this.#map.keys().next().value!);
    return parsed;
  }
}

/** At most this many TXT records at one selector are considered (a selector with 50 records is a DoS). */
const MAX_RECORDS = 4;

export async function lookupDkimKey(
  dns: DnsLookup,
  selector: string,
  domain: string,
  options: { readonly cache: KeyParseCache; readonly signal?: AbortSignal },
): Promise<KeyLookup> {
  const name = `${selector}._domainkey.${domain}`;
  let answer;
  try {
    answer = await dns.query(name, 'TXT', options.signal ? { signal: options.signal } : {});
  } catch (err) {
    const code = err instanceof DnsError ? err.code : 'OTHER';
    if (err instanceof DnsError && err.code === 'MALFORMED' && /invalid domain name/.test(err.message)) return { kind: 'invalid', reason: `invalid key name ${name}` };
    return { kind: 'temperror', reason: `key lookup ${name}: ${code}` };
  }
  if (answer.records.length === 0) return { kind: 'missing', reason: `no key at ${name} (${answer.rcode === 'NXDOMAIN' ? 'NXDOMAIN' : 'no TXT record'})` };
  const keys: DkimPublicKey[] = [];
  const problems: string[] = [];
  for (const rr of answer.records.slice(0, MAX_RECORDS)) {
    const parsed = options.cache.parse(rr.join(''));
    if (parsed.kind === 'key') keys.push(parsed.key);
    else problems.push(parsed.kind === 'revoked' ? 'key revoked (empty p=)' : parsed.reason);
  }
  if (keys.length === 0) return { kind: 'invalid', reason: problems.join('; ') };
  return { kind: 'found', keys, ttl: answer.ttl };
}
