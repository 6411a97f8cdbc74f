/**
 * `dane` (RFC 7672): for each MX host, TLSA records at `_25._tcp.<host>` that are present,
 * DNSSEC-validated (the validating resolver's AD bit: without it DANE does not apply,
 * §2.2; SERVFAIL means bogus, and DANE senders then defer mail), usable (DANE-EE/DANE-TA),
 * matching the certificate we know (dane.sites cert_files) or, with --connect, every chain the
 * server presents over STARTTLS (Postfix's matching rules, src/dane/match.ts), and with a
 * next-key record for rollover (RFC 7671 §8.1; src/dane/lint.ts). Pure.
 */
import type { X509Certificate } from 'node:crypto';
import type { CertChain } from '../../dane/cert-input.ts';
import { certName } from '../../dane/cert-input.ts';
import { lintRecords } from '../../dane/lint.ts';
import { matchChain } from '../../dane/match.ts';
import { tlsaFor } from '../../dane/tlsa-compute.ts';
import { sameTlsa, tlsaText, type Tlsa } from '../../dane/tlsa-params.ts';
import { result, type CheckResult, type Observed } from '../types.ts';

export interface PresentedObservation {
  readonly address: string;
  /** Each distinct chain (ECDSA offer, RSA offer), or why none could be fetched. */
  readonly chains: Observed<readonly { readonly offered: string; readonly certs: readonly X509Certificate[] }[]>;
}

export interface DaneHostObservation {
  readonly host: string;
  readonly owner: string;
  /** What the host's zone serves at the owner (its freshest authoritative server). */
  readonly tlsa: Observed<{ readonly rcode: 'NOERROR' | 'NXDOMAIN'; readonly records: readonly Tlsa[]; readonly signed: boolean }>;
  /** The validating resolver on the same question (DO): AD, or the SERVFAIL of bogus data. */
  readonly validation: Observed<{ readonly authenticated: boolean }>;
  /** The host's zone has a DS at its parent. */
  readonly zoneSigned: Observed<boolean>;
  /** The certificates configured for the host (dane.sites), and the next ones. */
  readonly known?: { readonly chains: readonly CertChain[]; readonly next: readonly Tlsa[]; readonly errors: readonly string[] };
  /** With --connect: what each address presents. */
  readonly presented?: readonly PresentedObservation[];
}

export interface DaneObservation {
  readonly domain: string;
  readonly hosts: readonly DaneHostObservation[];
  /** The domain takes no mail (null MX) or has no MX: nothing to pin. */
  readonly noMx?: string;
}

const r = result('dane');

function recordsFor(owner: string, chain: readonly X509Certificate[]): string {
  const lines = [`${owner} IN TLSA ${tlsaText(tlsaFor(chain[0]!, 3, 1, 1))}`];
  if (chain[1]) lines.push(`${owner} IN TLSA ${tlsaText(tlsaFor(chain[1], 2, 1, 1))}`);
  return lines.join(' and ');
}

function judgeHost(h: DaneHostObservation, now: number): CheckResult[] {
  const subject = h.owner;
  const out: CheckResult[] = [];
  for (const e of h.known?.errors ?? []) out.push(r.error(subject, `configured certificate unreadable: ${e}`));
  if (!h.tlsa.ok) return [...out, r.error(subject, `TLSA lookup failed: ${h.tlsa.error}`)];
  const records = h.tlsa.value.records;
  const known = h.known?.chains ?? [];
  const publish = known[0] ? `publish ${recordsFor(h.owner, known[0].certs)}` : `publish TLSA records for the certificate (mailanchor tlsa --host ${h.host} CHAIN.pem)`;
  if (records.length === 0) {
    if (h.zoneSigned.ok && !h.zoneSigned.value) return [...out, r.warn(subject, `no TLSA records, and ${h.host}'s zone is not signed: DANE needs DNSSEC first (see the dnssec check)`, `sign the zone, then ${publish}`)];
    return [...out, r.warn(subject, `no TLSA records: DANE senders (Postfix dane) fall back to unauthenticated TLS`, publish)];
  }
  if (!h.validation.ok) {
    return [...out, r.fail(subject, `the validating resolver failed on the TLSA RRset (${h.validation.code}: ${h.validation.error}): bogus DNSSEC makes DANE senders defer all mail to ${h.host}`, 'see the dnssec check of the zone that holds it')];
  }
  if (!h.validation.value.authenticated) {
    if (h.zoneSigned.ok && !h.zoneSigned.value) return [...out, r.fail(subject, `TLSA records in an unsigned zone: not DNSSEC-validated, so DANE does not apply (RFC 7672 §2.2)`, 'sign the zone and publish its DS at the parent')];
    if (!h.tlsa.value.signed) return [...out, r.fail(subject, 'the TLSA RRset carries no RRSIG: not DNSSEC-validated, DANE does not apply (RFC 7672 §2.2)', 'sign the zone (see the dnssec check)')];
    out.push(r.warn(subject, 'the resolver did not set AD for the TLSA RRset although the zone is signed: is the --dns resolver validating?', 'audit with a validating resolver (--dns 127.0.0.1 with a local Unbound)'));
  }
  const verdicts = known.map((c) => ({ chain: c, verdict: matchChain(records, c.certs, { host: h.host, now, smtp: true }) }));
  if (records.every((rec) => rec.usage === 0 || rec.usage === 1)) {
    out.push(r.fail(subject, 'only PKIX usages (0, 1): SMTP DANE clients treat the host as having no usable TLSA records (RFC 7672 §3.1.3)', publish));
  }
  for (const v of verdicts) {
    if (!v.verdict.matched) out.push(r.fail(subject, `no TLSA record matches the configured certificate ${v.chain.file} (${certName(v.chain.certs[0]!)}): DANE senders will not deliver when it is served`, `publish ${recordsFor(h.owner, v.chain.certs)}`));
  }
  for (const p of h.presented ?? []) {
    const where = `${subject} at ${p.address}`;
    if (!p.chains.ok) {
      out.push(r.error(where, `STARTTLS probe failed: ${p.chains.error}`));
      continue;
    }
    for (const c of p.chains.value) {
      const v = matchChain(records, c.certs, { host: h.host, now, smtp: true });
      if (!v.matched) {
        out.push(r.fail(where, `the ${c.certs[0]?.publicKey.asymmetricKeyType ?? '?'} certificate presented over STARTTLS (${certName(c.certs[0]!)}) matches no TLSA record: DANE senders will not deliver`, `publish ${recordsFor(h.owner, c.certs)} for the certificate served (keep the old records until it is everywhere), or serve the certificate the records pin`));
      }
    }
  }
  const lint = lintRecords({ port: 25, records, host: h.host, now, chains: known.map((c) => ({ file: c.file, certs: c.certs })) });
  if (lint.some((f) => f.code === 'NO_ROLLOVER_SCHEME')) out.push(r.warn(subject, 'no next-key record: a single 3 x x record and no 2 x x — the next certificate change breaks DANE unless its record is published first (RFC 7671 §8.1)', `publish a 2 1 1 record for the issuing CA, or the next key's 3 1 1 ahead of the change (mailanchor tlsa rollover --host ${h.host})`));
  const next = h.known?.next ?? [];
  const missingNext = next.filter((n) => !records.some((rec) => sameTlsa(rec, n)));
  if (missingNext.length > 0) out.push(r.warn(subject, `the next certificate (dane.sites next_files) is not published yet: ${missingNext.map(tlsaText).join(', ')}`, `publish ${missingNext.map((n) => `${h.owner} IN TLSA ${tlsaText(n)}`).join(' and ')}, then wait 2 × TTL before deploying it`));
  if (!out.some((x) => x.status !== 'ok')) {
    const against = [
      known.length ? `matches ${known.length} configured certificate${known.length > 1 ? 's' : ''}` : '',
      h.presented ? `matches what ${h.presented.length} address${h.presented.length > 1 ? 'es' : ''} present${h.presented.length > 1 ? '' : 's'} over STARTTLS` : '',
    ].filter(Boolean);
    out.push(r.ok(subject, `${records.length} TLSA record${records.length > 1 ? 's' : ''}, DNSSEC-validated${against.length ? `, ${against.join(' and ')}` : ' (not compared with a certificate: none configured in dane.sites; use --connect)'}`));
  }
  return out;
}

export function judgeDane(o: DaneObservation, now: number): CheckResult[] {
  if (o.noMx) return [r.ok(o.domain, o.noMx)];
  if (o.hosts.length === 0) return [r.ok(o.domain, 'no MX host to check (see the mx check)')];
  return o.hosts.flatMap((h) => judgeHost(h, now));
}
