/**
 * Fetching a DKIM key (RFC 6376 §3.6.2: TXT at `<selector>._domainkey.<domain>`) through the
 * caching resolver, with the parsed KeyObject cached per record text: the resolver keeps
 * the answer for its TTL, this keeps the expensive parse for as long as the text is the
 * same (bounded, least recently used dropped). ARC uses the same lookup (RFC 8617 §4.1.3).
 */
import { DnsError, type DnsLookup } from '../../dns/types.ts';
import { normalizeDomain } from '../../mail/domain.ts';
import { MAX_KEY_RECORD_LENGTH, parseKeyRecord, type DkimPublicKey, type KeyRecordParse } from './key-record.ts';

export type KeyLookup =
  | { readonly kind: 'found'; readonly keys: readonly DkimPublicKey[]; readonly ttl: number }
  /** NXDOMAIN/NODATA: "no key for signature" — PERMFAIL (§6.1.2 step 3). */
  | { readonly kind: 'missing'; readonly reason: string }
  /**
   * Records exist but none is a usable key (syntax, revoked, wrong service). `revoked`: every
   * record had an empty p= (§3.6.1 "key revoked"), so the reason can say so.
   */
  | { readonly kind: 'invalid'; readonly reason: string; readonly revoked?: boolean }
  /** DNS failed (timeout, SERVFAIL, budget spent): TEMPFAIL (§6.1.2 step 2). */
  | { readonly kind: 'temperror'; readonly reason: string };

export class KeyParseCache {
  readonly #max: number;
  readonly #map = new Map<string, KeyRecordParse>();

  constructor(maxEntries = 5000) {
    this.#max = maxEntries;
  }

  parse(text: string): KeyRecordParse {
    // Over-long texts are refused by the parser at once; caching them would let one sender
    // fill the cache with megabytes of keys.
    if (text.length > MAX_KEY_RECORD_LENGTH) return parseKeyRecord(text);
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
  const written = `${selector}._domainkey.${domain}`;
  // A selector and domain that are each valid can still make a name over 253 octets; U-labels
  // are looked up as A-labels (RFC 8616 §4).
  const name = normalizeDomain(written);
  if (name === undefined) return { kind: 'invalid', reason: `invalid key name ${written.slice(0, 300)}` };
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
  let revoked = 0;
  const considered = answer.records.slice(0, MAX_RECORDS);
  for (const rr of considered) {
    const parsed = options.cache.parse(rr.join(''));
    if (parsed.kind === 'key') keys.push(parsed.key);
    else if (parsed.kind === 'revoked') {
      revoked++;
      problems.push('key revoked (empty p=)');
    } else problems.push(parsed.reason);
  }
  if (keys.length === 0) return revoked === considered.length ? { kind: 'invalid', reason: problems[0]!, revoked: true } : { kind: 'invalid', reason: problems.join('; ') };
  return { kind: 'found', keys, ttl: answer.ttl };
}
