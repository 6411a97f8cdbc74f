/**
 * `dmarc-rua`: every `rua`/`ruf` destination outside the domain's organisation must agree
 * to receive its reports: TXT "v=DMARC1" at `<domain>._report._dmarc.<dest-host>` (RFC 9990
 * §6, RFC 7489 §7.1) — the seeds' lesson for reports sent to another domain. Without it,
 * receivers send no reports there. Pure: the verification itself is
 * `src/reports/destinations.ts` (the same code our report sender obeys).
 */
import type { Destination, Verification } from '../../reports/destinations.ts';
import { result, type CheckResult } from '../types.ts';

export interface RuaObservation {
  readonly tag: 'rua' | 'ruf';
  readonly uri: string;
  /** The parsed destination, or why the URI is not usable. */
  readonly destination: Destination | string;
  readonly verification?: Verification;
}

const r = result('dmarc-rua');

export function judgeDmarcRua(domain: string, list: readonly RuaObservation[] | undefined): CheckResult[] {
  if (list === undefined) return [r.ok(domain, 'no DMARC record with report destinations (see the dmarc check)')];
  if (list.length === 0) return [r.ok(domain, 'the DMARC record names no report destinations')];
  const out: CheckResult[] = [];
  for (const o of list) {
    const subject = `${o.tag}=${o.uri}`;
    if (typeof o.destination === 'string') {
      out.push(r.fail(subject, `${o.destination}; receivers skip it`, `use mailto:ADDRESS (RFC 9990 §4)`));
      continue;
    }
    const v = o.verification;
    if (!v || v.kind === 'internal') out.push(r.ok(subject, `${o.destination.domain} is within ${domain}'s organisation: no authorisation needed`));
    else if (v.kind === 'authorized') out.push(r.ok(subject, `${o.destination.domain} authorises reports about ${domain} (${v.name} TXT "v=DMARC1")${v.override ? `, redirected to ${v.override.join(', ')}` : ''}`));
    else if (v.kind === 'temporary') out.push(r.error(subject, `authorisation lookup failed: ${v.reason}`));
    else out.push(r.fail(subject, `${v.reason}: receivers send no ${o.tag === 'rua' ? 'aggregate' : 'failure'} reports there`, `the owner of ${o.destination.domain} publishes: ${v.name}. IN TXT "v=DMARC1"  (or a wildcard *._report._dmarc.${o.destination.domain})`));
  }
  return out;
}
