/** Observations for the dmarc and dmarc-rua checks. */
import type { DnsLookup } from '../../dns/types.ts';
import { parseRua, verifyDestination } from '../../reports/destinations.ts';
import type { DmarcObservation, DmarcTxt } from '../checks/dmarc.ts';
import type { RuaObservation } from '../checks/dmarc-rua.ts';
import { isDmarcRecord, parseDmarcRecord } from '../dmarc-record.ts';
import { observe } from '../types.ts';

/** URIs verified per domain: a record listing hundreds is judged on the first ones. */
const MAX_DESTINATIONS = 10;

async function txtAt(lookup: DnsLookup, name: string): Promise<DmarcTxt> {
  const a = await lookup.query(name, 'TXT');
  return { name, txts: a.records.map((parts) => parts.join('')) };
}

export async function gatherDmarc(domain: string, lookup: DnsLookup): Promise<DmarcObservation> {
  const own = await observe(() => txtAt(lookup, `_dmarc.${domain}`));
  if (!own.ok || own.value.txts.some(isDmarcRecord)) return { domain, own };
  // RFC 9989 §4.10: the tree walk, one label at a time up to the single-label parent (a PSD), at most 8 steps.
  const labels = domain.split('.');
  const inherited = await observe(async () => {
    for (let i = 1; i < labels.length && i <= 8; i++) {
      const t = await txtAt(lookup, `_dmarc.${labels.slice(i).join('.')}`);
      if (t.txts.some(isDmarcRecord)) return t;
    }
    return undefined;
  });
  return { domain, own, inherited };
}

/** The destinations of the domain's own (single, valid) record; undefined when there is none. */
export async function gatherRua(domain: string, dmarc: DmarcObservation, lookup: DnsLookup): Promise<RuaObservation[] | undefined> {
  if (!dmarc.own.ok) return undefined;
  const records = dmarc.own.value.txts.filter(isDmarcRecord);
  if (records.length !== 1) return undefined;
  const parsed = parseDmarcRecord(records[0]!);
  if (!parsed.ok) return undefined;
  const uris = [...parsed.record.rua.map((uri) => ({ tag: 'rua' as const, uri })), ...parsed.record.ruf.map((uri) => ({ tag: 'ruf' as const, uri }))].slice(0, MAX_DESTINATIONS);
  return Promise.all(
    uris.map(async ({ tag, uri }): Promise<RuaObservation> => {
      const destination = parseRua(uri);
      if (typeof destination === 'string') return { tag, uri, destination };
      return { tag, uri, destination, verification: await verifyDestination(lookup, domain, destination) };
    }),
  );
}
