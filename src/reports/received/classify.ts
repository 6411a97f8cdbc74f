/**
 * What one report row means for the domain owner — pure, from the row alone:
 *
 * - `aligned`: DMARC passed (RFC 7489 §4.2 / RFC 9989: an aligned SPF or DKIM pass) without
 *   an intermediary in the way: the sender is authorised;
 * - `forwarded`: DKIM carried it while SPF failed (a forwarder or a list that kept the
 *   signature), or the receiver overrode a failure as `forwarded`, `mailing_list` or
 *   `trusted_forwarder` (RFC 7489 §6.6.2 PolicyOverrideType) — not the domain's problem;
 * - `failing`: DMARC failed with our domain in From:. `unaligned` when the source
 *   authenticated as *another* domain (SPF or DKIM pass for it): a real service sending for
 *   us without alignment — a forgotten sender to fix; `unauthenticated` when nothing
 *   passed: spoofing (or a sender with no SPF and no DKIM at all).
 */
import type { AggregateRow } from '../read/model.ts';

export type RowClass = 'aligned' | 'forwarded' | 'failing';
export type FailingKind = 'unaligned' | 'unauthenticated';

export type Classification = { readonly class: 'aligned' | 'forwarded' } | { readonly class: 'failing'; readonly kind: FailingKind };

const INTERMEDIARY = new Set(['forwarded', 'mailing_list', 'trusted_forwarder']);
const SPF_FAIL = new Set(['fail', 'softfail']);

export function classify(row: AggregateRow): Classification {
  const dmarcPass = row.dkim === 'pass' || row.spf === 'pass';
  if (dmarcPass) {
    // SPF aligned and passing: the source is ours (or authorised). DKIM alone with SPF
    // failing on the envelope: someone in between re-sent the message.
    if (row.spf !== 'pass' && row.spfAuth.some((s) => SPF_FAIL.has(s.result))) return { class: 'forwarded' };
    return { class: 'aligned' };
  }
  if (row.reasons.some((r) => INTERMEDIARY.has(r.type))) return { class: 'forwarded' };
  const authenticatedElsewhere = row.dkimAuth.some((d) => d.result === 'pass') || row.spfAuth.some((s) => s.result === 'pass');
  return { class: 'failing', kind: authenticatedElsewhere ? 'unaligned' : 'unauthenticated' };
}

/**
 * Orders IP addresses numerically: IPv4 before IPv6, then by value (`9.0.0.1` before
 * `10.0.0.1`, which a text sort gets wrong). Both in canonical text form.
 */
export function compareIp(a: string, b: string): number {
  const ka = ipKey(a);
  const kb = ipKey(b);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

const keys = new Map<string, string>();

/** A fixed-width sort key: family digit, then 32 hex digits. */
export function ipKey(ip: string): string {
  let k = keys.get(ip);
  if (k !== undefined) return k;
  if (ip.includes(':')) {
    const [head = '', tail] = ip.split('::');
    const h = head ? head.split(':') : [];
    const t = tail ? tail.split(':') : [];
    const groups = tail === undefined ? h : [...h, ...Array<string>(Math.max(0, 8 - h.length - t.length)).fill('0'), ...t];
    k = `6${groups.map((g) => g.padStart(4, '0')).join('')}`;
  } else k = `4${ip.split('.').map((o) => Number(o).toString(16).padStart(2, '0')).join('').padStart(32, '0')}`;
  if (keys.size > 200_000) keys.clear();
  keys.set(ip, k);
  return k;
}
