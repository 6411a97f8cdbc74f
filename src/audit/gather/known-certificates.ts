/**
 * The certificates the audit knows for MX hosts: every `dane.sites` entry on port 25, its
 * `cert_files` (the chains Postfix serves) and the records of its `next_files`, read once per
 * run. A file that cannot be read is an error for that host, never a guess.
 */
import { readTlsaSource, type CertChain } from '../../dane/cert-input.ts';
import type { DaneSiteConfig } from '../../dane/config.ts';
import { computeRecords } from '../../dane/tlsa-compute.ts';
import type { Tlsa } from '../../dane/tlsa-params.ts';
import { describeError } from '../../errors.ts';

export type KnownCertificates = ReadonlyMap<string, { readonly chains: readonly CertChain[]; readonly next: readonly Tlsa[]; readonly errors: readonly string[] }>;

export async function loadKnownCertificates(sites: readonly DaneSiteConfig[], now: number): Promise<KnownCertificates> {
  const out = new Map<string, { chains: CertChain[]; next: Tlsa[]; errors: string[] }>();
  for (const site of sites.filter((s) => s.port === 25 && s.proto === 'tcp')) {
    const entry = out.get(site.host) ?? { chains: [], next: [], errors: [] };
    out.set(site.host, entry);
    for (const file of site.cert_files) {
      try {
        const src = await readTlsaSource(file, { now });
        if (src.kind === 'chain') entry.chains.push(src);
        else entry.errors.push(`${file}: a bare key, not a certificate chain`);
      } catch (err) {
        entry.errors.push(describeError(err).message);
      }
    }
    for (const file of site.next_files) {
      try {
        const recs = computeRecords(await readTlsaSource(file, { now }), site.records === 'dane-ee' ? { usage: 3 } : {}).records;
        // The next key's end-entity record is what must be pre-published; a 2 x x for the
        // same CA is usually in place already.
        entry.next.push(...recs.filter((r) => r.usage === 3).map(({ usage, selector, matchingType, data }) => ({ usage, selector, matchingType, data })));
      } catch (err) {
        entry.errors.push(describeError(err).message);
      }
    }
  }
  return out;
}
