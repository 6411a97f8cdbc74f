/**
 * Observations for the dane check: per MX host the TLSA RRset from its zone's authoritative
 * servers, the validating resolver's verdict on it, the zone's DS, the configured
 * certificates, and with --connect what each address presents over STARTTLS (every chain:
 * one handshake offering only ECDSA, one only RSA, as `tlsa check` does).
 */
import type { X509Certificate } from 'node:crypto';
import { DaneError } from '../../dane/errors.ts';
import { fetchPresentedChain, SIGALGS } from '../../dane/probe.ts';
import { tlsaOwner } from '../../dane/tlsa-params.ts';
import { typeNumber } from '../../dns/wire-query.ts';
import { TYPE } from '../../dns/wire.ts';
import type { AuditDns } from '../dns-context.ts';
import type { DaneHostObservation, DaneObservation, PresentedObservation } from '../checks/dane.ts';
import type { MxObservation } from '../checks/mx.ts';
import { isNullMx } from '../checks/mx.ts';
import { failed, observe, observed } from '../types.ts';
import { readPreferred } from '../zone-reader.ts';
import { zoneServers } from '../zone-servers.ts';
import type { KnownCertificates } from './known-certificates.ts';

/** Addresses probed per MX host with --connect. */
const MAX_PROBED_ADDRESSES = 4;

export interface DaneGatherOptions {
  readonly known: KnownCertificates;
  readonly connect: boolean;
  readonly timeoutMs: number;
  /** Record the TLSA owners read, for the ns check's consistency comparison. */
  readonly onRead: (zone: string, name: string) => void;
}

async function probe(host: string, address: string, timeoutMs: number): Promise<PresentedObservation> {
  const chains: { offered: string; certs: X509Certificate[] }[] = [];
  const failures: string[] = [];
  for (const [offered, sigalgs] of Object.entries(SIGALGS)) {
    try {
      const got = await fetchPresentedChain({ host, address, port: 25, starttls: 'smtp', sigalgs, timeoutMs });
      const leaf = got.certs[0];
      if (leaf && !chains.some((c) => c.certs[0]?.fingerprint256 === leaf.fingerprint256)) chains.push({ offered, certs: [...got.certs] });
    } catch (err) {
      if (!(err instanceof DaneError)) throw err;
      failures.push(`${offered}: ${err.message}`);
    }
  }
  return { address, chains: chains.length > 0 ? observed(chains) : { ok: false, error: failures.join('; '), code: 'UNREACHABLE' } };
}

export async function gatherDane(dns: AuditDns, domain: string, mx: MxObservation, o: DaneGatherOptions): Promise<DaneObservation> {
  if (mx.mx.ok && isNullMx(mx.mx.value.records)) return { domain, hosts: [], noMx: 'null MX: the domain takes no mail, nothing to pin' };
  const hosts = await Promise.all(
    mx.hosts.map(async (h): Promise<DaneHostObservation> => {
      const owner = tlsaOwner(h.name, 25).replace(/\.$/, '');
      const zone = await observe(() => dns.zoneOf(owner));
      const zs = zone.ok ? await zoneServers(dns, zone.value) : undefined;
      const tlsa = await observe(async () => {
        if (!zs || zs.preferred.length === 0) {
          const a = await dns.lookup.query(owner, 'TLSA', { dnssec: true });
          return { rcode: a.rcode, records: a.records, signed: false };
        }
        o.onRead(zs.zone, owner);
        const a = await readPreferred(dns, zs, owner, 'TLSA');
        if (a === 'referral') {
          const b = await dns.lookup.query(owner, 'TLSA');
          return { rcode: b.rcode, records: b.records, signed: false };
        }
        const p = await dns.ask(zs.preferred[0]!.address, owner, typeNumber('TLSA'));
        const signed = p.ok && p.value.answer.some((r) => r.type === TYPE.RRSIG && r.rdata.readUInt16BE(0) === TYPE.TLSA);
        return { rcode: a.rcode, records: a.records, signed };
      });
      const validation = await dns.validating.query(owner, 'TLSA', { dnssec: true }).then(
        (a) => observed({ authenticated: a.authenticated }),
        (err: unknown) => failed(err),
      );
      const zoneSigned = !zone.ok ? zone : zs && zs.ds.ok ? observed(zs.ds.value.records.length > 0) : zs && !zs.ds.ok ? { ok: false as const, error: zs.ds.error, code: zs.ds.code } : observed(false);
      const known = o.known.get(h.name);
      let presented: PresentedObservation[] | undefined;
      if (o.connect) {
        const addrs = [...(h.a.ok ? h.a.value : []), ...(h.aaaa.ok ? h.aaaa.value : [])].slice(0, MAX_PROBED_ADDRESSES);
        presented = await Promise.all(addrs.map((address) => probe(h.name, address, o.timeoutMs)));
      }
      return { host: h.name, owner, tlsa, validation, zoneSigned, ...(known ? { known } : {}), ...(presented ? { presented } : {}) };
    }),
  );
  return { domain, hosts };
}
