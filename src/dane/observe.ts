/**
 * One round of observations of a TLSA owner on every authoritative server, queried
 * directly (`src/dns/authoritative.ts`), turned into the rollover module's shape. A
 * server that errs or does not answer authoritatively counts as "not serving".
 */
import { observeZone } from '../dns/authoritative.ts';
import type { DnsLookup, DnsServer } from '../dns/types.ts';
import type { TlsaObservation } from './rollover.ts';

export interface AuthoritativeSource {
  readonly zone: string;
  /** Configured servers (hidden primary, tests); otherwise the zone's NS via `lookup`. */
  readonly servers?: readonly DnsServer[];
  readonly lookup?: DnsLookup;
  readonly timeoutMs?: number;
}

export async function observeTlsa(owner: string, source: AuthoritativeSource): Promise<TlsaObservation[]> {
  const z = await observeZone(source.zone, owner, 'TLSA', { ...(source.servers ? { servers: source.servers } : {}), ...(source.lookup ? { lookup: source.lookup } : {}) }, { timeoutMs: source.timeoutMs ?? 3000 });
  const out: TlsaObservation[] = z.observations.map((o): TlsaObservation => {
    if (!o.ok) return { server: o.server, ok: false, error: `${o.error.code}: ${o.error.message}` };
    if (!o.answer.authoritative) return { server: o.server, ok: false, error: 'answer without the AA bit (not authoritative for the zone)' };
    return { server: o.server, ok: true, ttl: o.answer.ttl, records: o.answer.records.map((r) => ({ usage: r.usage, selector: r.selector, matchingType: r.matchingType, data: r.data })) };
  });
  for (const p of z.problems) out.push({ server: p.nameserver, ok: false, error: p.error.message });
  return out;
}
