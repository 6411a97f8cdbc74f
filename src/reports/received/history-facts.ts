/**
 * Gathers what our own history knows, for the explanations: the keystore's selectors with
 * their states (never the key material), the TLSA records the DANE rollover state saw
 * served everywhere and since when, and the certificates configured for each DANE site.
 * Whatever cannot be read is left out and named in `notes`, never guessed.
 */
import { readFile } from 'node:fs/promises';
import { X509Certificate } from 'node:crypto';
import type { DaneConfig } from '../../dane/config.ts';
import { pemBlocks } from '../../dane/cert-input.ts';
import { loadRolloverState, stateFileFor } from '../../dane/rollover-state.ts';
import type { KeyStore } from '../../keys/key-store.ts';
import type { CertFact, History, KeyFact, TlsaFact } from './explain.ts';

export async function gatherHistory(keyStore: KeyStore | undefined, dane: DaneConfig): Promise<{ history: History; notes: string[] }> {
  const notes: string[] = [];
  let keys: KeyFact[] | undefined;
  if (keyStore) {
    try {
      keys = (await keyStore.list()).map((k) => ({ domain: k.domain, selector: k.selector, state: k.state, stateSince: k.stateSince, createdAt: k.createdAt }));
    } catch (err) {
      notes.push(`keystore not read: ${(err as Error).message}`);
    }
  }
  const tlsa: TlsaFact[] = [];
  const certs: CertFact[] = [];
  for (const site of dane.sites) {
    const owner = `_${site.port}._${site.proto}.${site.host}`;
    try {
      const state = await loadRolloverState(stateFileFor(dane.state_dir, owner), owner);
      for (const [record, since] of Object.entries(state.everywhereSince)) tlsa.push({ owner, record, servedEverywhereSince: since });
    } catch (err) {
      notes.push(`TLSA rollover state of ${owner} not read: ${(err as Error).message}`);
    }
    for (const file of site.cert_files) {
      try {
        const pem = pemBlocks(await readFile(file, 'latin1')).find((b) => b.label === 'CERTIFICATE');
        if (!pem) continue;
        const cert = new X509Certificate(pem.der);
        certs.push({ host: site.host, file, notBefore: Date.parse(cert.validFrom), notAfter: Date.parse(cert.validTo) });
      } catch (err) {
        notes.push(`certificate ${file} not read: ${(err as Error).message}`);
      }
    }
  }
  return { history: keys ? { keys, tlsa, certs } : { tlsa, certs }, notes };
}
