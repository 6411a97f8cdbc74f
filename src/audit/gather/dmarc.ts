/** Observations for the dmarc and dmarc-rua checks, through the evaluator's own discovery (src/auth/dmarc/). */
import { DmarcDiscovery } from '../../auth/dmarc/discovery.ts';
import { joinTxt } from '../../auth/dmarc/record.ts';
import type { DnsLookup } from '../../dns/types.ts';
import { parseRua, verifyDestination } from '../../reports/destinations.ts';
import type { DmarcObservation } from '../checks/dmarc.ts';
import type { RuaObservation } from '../checks/dmarc-rua.ts';

/** URIs verified per domain: a record listing hundreds is judged on the first ones. */
const MAX_DESTINATIONS = 10;

export async function gatherDmarc(domain: string, lookup: DnsLookup): Promise<DmarcObservation> {
  const discovery = new DmarcDiscovery(lookup);
  const [walk, ownTexts] = await Promise.all([
    discovery.walk(domain),
    lookup.query(`_dmarc.${domain}`, 'TXT').then(
      (a) => a.records.map(joinTxt),
      () => [] as string[],
    ),
  ]);
  return { domain, walk, ownTexts };
}

/** The destinations of the domain's own record; undefined when it has none. */
export async function gatherRua(domain: string, dmarc: DmarcObservation, lookup: DnsLookup): Promise<RuaObservation[] | undefined> {
  const first = dmarc.walk.steps[0];
  if (!first || first.lookup.kind !== 'record') return undefined;
  const { record } = first.lookup;
  const uris = [...record.rua.map((uri) => ({ tag: 'rua' as const, uri })), ...record.ruf.map((uri) => ({ tag: 'ruf' as const, uri }))].slice(0, MAX_DESTINATIONS);
  return Promise.all(
    uris.map(async ({ tag, uri }): Promise<RuaObservation> => {
      const destination = parseRua(uri);
      if (typeof destination === 'string') return { tag, uri, destination };
      return { tag, uri, destination, verification: await verifyDestination(lookup, domain, destination) };
    }),
  );
}
