/**
 * `dnssec`: the chain from the parent — a DS that names a DNSKEY of the zone (RFC 4035
 * §5.2) — and, on every authoritative server separately, valid signatures over the
 * DNSKEY set (by a key the DS names) and over every RRset the audit read (RFC 4035 §5.3,
 * checked with src/dns/dnssec.ts), signatures that expire soon, and the validating
 * resolver's verdict (AD, or SERVFAIL for bogus). An unsigned zone is a warning: DANE
 * needs DNSSEC. Pure; `now` injected.
 */
import { algorithmName, DEPRECATED_ALGORITHMS, DIGEST_TYPES, dsMatches, dsRecordText, parseDnskey, parseDs, verifyRrset, type Dnskey } from '../../dns/dnssec.ts';
import { wireName, type WireRecord } from '../../dns/wire.ts';
import { result, type CheckResult, type Observed } from '../types.ts';
import type { ZoneServers } from '../zone-servers.ts';

export interface SignedRrset {
  /** `name TYPE`. */
  readonly label: string;
  readonly records: readonly WireRecord[];
  /** RRSIGs from the same section (those covering other types are ignored by the verifier). */
  readonly rrsigs: readonly WireRecord[];
}

export interface DnssecServerObservation {
  readonly server: string;
  /** The DNSKEY RRset at the apex from this server, with its RRSIGs. */
  readonly dnskey: Observed<{ readonly records: readonly WireRecord[]; readonly rrsigs: readonly WireRecord[] }>;
  readonly rrsets: readonly SignedRrset[];
  /** Queries of this server that failed. */
  readonly errors: readonly string[];
}

export interface DnssecObservation {
  readonly zone: string;
  readonly ds: ZoneServers['ds'] | { readonly ok: false; readonly error: string; readonly code: string };
  readonly servers: readonly DnssecServerObservation[];
  /** The validating resolver, asked SOA with DO and CD clear. */
  readonly resolver: Observed<{ readonly authenticated: boolean }>;
}

export interface DnssecPolicy {
  /** Warn when a valid signature expires within this (ms). */
  readonly expiryWarningMs: number;
}

const r = result('dnssec');
const DAY = 86_400_000;

export function judgeDnssec(o: DnssecObservation, now: number, policy: DnssecPolicy): CheckResult[] {
  const zone = o.zone;
  const owner = wireName(zone);
  const out: CheckResult[] = [];
  if (!o.ds.ok) return [r.error(zone, `DS at the parent not known: ${o.ds.error}`)];
  const ds = o.ds.value.records.map((rec) => parseDs(rec.rdata)).filter((d) => d !== undefined);
  const keySets = o.servers.filter((s) => s.dnskey.ok).map((s) => (s.dnskey.ok ? s.dnskey.value.records.map((rec) => parseDnskey(rec.rdata)).filter((k): k is Dnskey => k !== undefined) : []));
  const anyKeys = keySets.some((k) => k.length > 0);
  const keys = keySets.find((k) => k.length > 0) ?? [];
  if (ds.length === 0 && !anyKeys) {
    if (o.servers.every((s) => !s.dnskey.ok)) return [r.error(zone, `DNSKEY not known: ${o.servers.map((s) => (s.dnskey.ok ? '' : `${s.server}: ${s.dnskey.error}`)).join('; ')}`)];
    return [r.warn(zone, 'the zone is not signed: no DNSSEC, so DANE (TLSA) cannot be used and answers can be forged', `sign the zone (Knot: dnssec-signing: on; BIND: dnssec-policy default) and publish at the registrar the DS it gives`)];
  }
  if (ds.length === 0) {
    const ksks = keys.filter((k) => k.sep && k.zoneKey);
    return [r.warn(zone, `the zone is signed (${keys.length} DNSKEY) but the parent ${o.ds.value.server} has no DS: validators treat it as unsigned`, `at the registrar, publish: ${(ksks.length ? ksks : keys).map((k) => dsRecordText(owner, k)).join(' and ')}`)];
  }
  if (!anyKeys) return [r.fail(zone, `the parent has ${ds.length} DS record(s) but no server serves a DNSKEY: the zone is bogus for every validating resolver`, 'sign the zone again with the key the DS names, or remove the DS at the registrar')];
  // DS ↔ DNSKEY.
  const allKeys = [...new Map(keySets.flat().map((k) => [k.rdata.toString('hex'), k])).values()];
  const matching = ds.filter((d) => allKeys.some((k) => dsMatches(owner, d, k) === true));
  const dsKeyTags = new Set(allKeys.filter((k) => ds.some((d) => dsMatches(owner, d, k) === true)).map((k) => k.keyTag));
  const unmatched = ds.filter((d) => !matching.includes(d));
  const ksks = allKeys.filter((k) => k.sep && k.zoneKey);
  const dsFix = `at the registrar, publish ${(ksks.length ? ksks : allKeys).map((k) => dsRecordText(owner, k)).join(' and ')}${unmatched.length ? ` and remove DS ${unmatched.map((d) => `${d.keyTag} ${d.algorithm} ${d.digestType}`).join(', ')}` : ''}`;
  if (matching.length === 0) {
    out.push(r.fail(zone, `no DS at the parent matches a DNSKEY of the zone (DS ${ds.map((d) => `${d.keyTag}/${algorithmName(d.algorithm)}`).join(', ')}; keys ${allKeys.map((k) => `${k.keyTag}/${algorithmName(k.algorithm)}`).join(', ')}): the zone is bogus for every validating resolver, mail to it fails`, dsFix));
  } else if (unmatched.length > 0) {
    out.push(r.warn(zone, `DS ${unmatched.map((d) => `${d.keyTag}/${algorithmName(d.algorithm)}`).join(', ')} at the parent matches no DNSKEY (left over from a key rollover?)`, `at the registrar, remove DS ${unmatched.map((d) => `${d.keyTag} ${d.algorithm} ${d.digestType}`).join(', ')}`));
  }
  if (matching.length > 0 && matching.every((d) => d.digestType === 1)) out.push(r.warn(zone, 'the only DS digest is SHA-1, which RFC 8624 §3.3 says not to use any more', `at the registrar, publish the SHA-256 DS: ${(ksks.length ? ksks : allKeys).map((k) => dsRecordText(owner, k, 2)).join(' and ')}`));
  const deprecated = allKeys.filter((k) => DEPRECATED_ALGORITHMS.has(k.algorithm));
  if (deprecated.length) out.push(r.warn(zone, `DNSKEY algorithm ${[...new Set(deprecated.map((k) => algorithmName(k.algorithm)))].join(', ')} is deprecated (RFC 8624 §3.1)`, 'roll the keys to ECDSAP256SHA256 (13) or ED25519 (15)'));
  if (o.ds.value.rrsigs.length === 0) out.push(r.warn(zone, `the parent (${o.ds.value.server}) serves the DS without a signature: is the parent zone signed? Without that the chain of trust does not reach this zone`, 'a registrar/TLD that signs its zone'));
  // Per server: every RRset validly signed.
  for (const s of o.servers) {
    if (!s.dnskey.ok) {
      out.push(r.error(s.server, `DNSKEY query failed: ${s.dnskey.error}`));
      continue;
    }
    const problems: string[] = [];
    const serverKeys = s.dnskey.value.records.map((rec) => parseDnskey(rec.rdata)).filter((k): k is Dnskey => k !== undefined);
    const keyVerdict = verifyRrset(s.dnskey.value.records, s.dnskey.value.rrsigs, serverKeys, zone, now);
    const byDsKey = keyVerdict.checks.some((c) => c.status === 'valid' && dsKeyTags.has(c.keyTag));
    if (keyVerdict.status !== 'valid') problems.push(`DNSKEY set: ${keyVerdict.status}${keyVerdict.checks[0] ? ` (${keyVerdict.checks.map((c) => c.detail).join('; ')})` : ''}`);
    else if (!byDsKey && matching.length > 0) problems.push(`DNSKEY set: not signed by a key the parent's DS names (${[...dsKeyTags].join(', ') || 'none'})`);
    let earliest = keyVerdict.validUntil;
    let checked = 1;
    for (const set of s.rrsets) {
      const v = verifyRrset(set.records, set.rrsigs, serverKeys, zone, now);
      checked++;
      if (v.status !== 'valid') problems.push(`${set.label}: ${v.status === 'unsigned' ? 'no RRSIG' : v.status}${v.checks.length ? ` (${v.checks.map((c) => c.detail).join('; ')})` : ''}`);
      if (v.validUntil !== undefined) earliest = earliest === undefined ? v.validUntil : Math.min(earliest, v.validUntil);
    }
    for (const e of s.errors) out.push(r.error(s.server, e));
    if (problems.length > 0) {
      const expired = problems.some((p) => /expired/.test(p));
      out.push(r.fail(s.server, `${problems.length} of ${checked} RRsets not validly signed: ${problems.slice(0, 5).join(' | ')}${problems.length > 5 ? ` | … ${problems.length - 5} more` : ''} — validating resolvers that ask this server get SERVFAIL`, expired ? `re-sign the zone on this server's primary and check the transfer to it (signatures expire: the server is serving an old copy)` : 'sign the zone again on the primary and transfer it to this server'));
    } else if (earliest !== undefined && earliest - now < policy.expiryWarningMs) {
      out.push(r.warn(s.server, `signatures expire ${new Date(earliest).toISOString()} (in ${((earliest - now) / DAY).toFixed(1)} days): is the signer re-signing?`, 'check the signer (Knot: rrsig-refresh; BIND: sig-validity-interval) and the transfer to this server'));
    } else {
      out.push(r.ok(s.server, `${checked} RRsets validly signed (DNSKEY by key ${[...dsKeyTags].join(', ')}), earliest expiry ${earliest === undefined ? '?' : new Date(earliest).toISOString()}`));
    }
  }
  // The validating resolver's view.
  if (!o.resolver.ok) {
    out.push(o.resolver.code === 'SERVFAIL' ? r.fail(zone, `the validating resolver answers SERVFAIL for ${zone} SOA: the zone is bogus for validating resolvers`, 'see the DS and signature results above') : r.error(zone, `validating resolver: ${o.resolver.error}`));
  } else if (!o.resolver.value.authenticated) {
    out.push(r.warn(zone, `the resolver returned ${zone} SOA without AD: either it does not validate (audit with a validating --dns resolver) or the chain of trust above ${zone} is broken`, 'check with a validating resolver, e.g. a local Unbound'));
  } else if (!out.some((x) => x.status !== 'ok')) {
    out.unshift(r.ok(zone, `DS ${matching.map((d) => `${d.keyTag} (${algorithmName(d.algorithm)}, ${DIGEST_TYPES[d.digestType] ?? `digest ${d.digestType}`})`).join(', ')} matches the zone's key; the validating resolver confirms (AD)`));
  }
  return out;
}
