/**
 * DNSSEC primitives over `wire.ts` records, pure and synchronous: DNSKEY/DS/RRSIG RDATA,
 * key tags (RFC 4034 App. B), DS digests (RFC 4034 §5.1.4, RFC 4509, RFC 6605 §3) and
 * RRSIG verification over the canonical RRset (RFC 4034 §3.1.8.1, §6; RFC 4035 §5.3) with
 * Node's crypto: RSA/SHA-1, RSA/SHA-256, RSA/SHA-512 (RFC 3110, 5702), ECDSA P-256 and
 * P-384 (RFC 6605), Ed25519 and Ed448 (RFC 8080).
 *
 * This checks what one server serves: signatures and key material. It is not a resolver:
 * denial-of-existence proofs are not evaluated, and the chain above a zone is the caller's
 * business (a validating resolver's AD bit, or a DS it fetched from the parent).
 */
import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { typeName, type WireName, type WireRecord } from './wire.ts';

/** DNSSEC algorithm numbers (IANA) and their mnemonics. */
export const ALGORITHMS: Readonly<Record<number, string>> = {
  1: 'RSAMD5',
  3: 'DSA',
  5: 'RSASHA1',
  6: 'DSA-NSEC3-SHA1',
  7: 'RSASHA1-NSEC3-SHA1',
  8: 'RSASHA256',
  10: 'RSASHA512',
  12: 'ECC-GOST',
  13: 'ECDSAP256SHA256',
  14: 'ECDSAP384SHA384',
  15: 'ED25519',
  16: 'ED448',
};
export const algorithmName = (n: number): string => ALGORITHMS[n] ?? `algorithm ${n}`;

/** RFC 8624 §3.1: MUST NOT sign with these any more (validators may still accept 5/7). */
export const DEPRECATED_ALGORITHMS: ReadonlySet<number> = new Set([1, 3, 5, 6, 7, 12]);

export const DIGEST_TYPES: Readonly<Record<number, string>> = { 1: 'SHA-1', 2: 'SHA-256', 3: 'GOST R 34.11-94', 4: 'SHA-384' };

export interface Dnskey {
  readonly flags: number;
  readonly protocol: number;
  readonly algorithm: number;
  readonly publicKey: Buffer;
  readonly keyTag: number;
  /** Zone Key flag (bit 7, RFC 4034 §2.1.1): only these may sign zone data. */
  readonly zoneKey: boolean;
  /** Secure Entry Point (bit 15): a KSK by convention. */
  readonly sep: boolean;
  /** REVOKE (bit 8, RFC 5011 §3). */
  readonly revoked: boolean;
  /** The RDATA, for DS digests. */
  readonly rdata: Buffer;
}

export interface Ds {
  readonly keyTag: number;
  readonly algorithm: number;
  readonly digestType: number;
  readonly digest: Buffer;
}

export interface Rrsig {
  readonly typeCovered: number;
  readonly algorithm: number;
  readonly labels: number;
  readonly originalTtl: number;
  /** Absolute times in ms, from the 32-bit serial-arithmetic fields (RFC 4034 §3.1.5) nearest `now`. */
  readonly expiration: number;
  readonly inception: number;
  readonly keyTag: number;
  /** Signer's name, presentation form, lower case. */
  readonly signer: string;
  readonly signature: Buffer;
  /** The RDATA up to the signature with the signer in canonical form: the head of the signed data. */
  readonly signedHead: Buffer;
}

/** RFC 4034 Appendix B. */
export function keyTag(rdata: Buffer): number {
  let ac = 0;
  for (let i = 0; i < rdata.length; i++) ac += i & 1 ? rdata[i]! : rdata[i]! << 8;
  ac += (ac >> 16) & 0xffff;
  return ac & 0xffff;
}

export function parseDnskey(rdata: Buffer): Dnskey | undefined {
  if (rdata.length < 5) return undefined;
  const flags = rdata.readUInt16BE(0);
  return {
    flags,
    protocol: rdata[2]!,
    algorithm: rdata[3]!,
    publicKey: Buffer.from(rdata.subarray(4)),
    keyTag: keyTag(rdata),
    zoneKey: (flags & 0x0100) !== 0,
    sep: (flags & 0x0001) !== 0,
    revoked: (flags & 0x0080) !== 0,
    rdata: Buffer.from(rdata),
  };
}

export function parseDs(rdata: Buffer): Ds | undefined {
  if (rdata.length < 5) return undefined;
  return { keyTag: rdata.readUInt16BE(0), algorithm: rdata[2]!, digestType: rdata[3]!, digest: Buffer.from(rdata.subarray(4)) };
}

/** A 32-bit RRSIG time as ms since the epoch, in the 2^32-second window around `now` (RFC 4034 §3.1.5). */
export function serialTime(value: number, now: number): number {
  const nowS = Math.floor(now / 1000);
  const wrap = 2 ** 32;
  let t = value + Math.floor(nowS / wrap) * wrap;
  if (t - nowS > 2 ** 31) t -= wrap;
  else if (nowS - t > 2 ** 31) t += wrap;
  return t * 1000;
}

/** Parses a (canonical) RRSIG RDATA; `now` anchors the serial-arithmetic times. */
export function parseRrsig(canonicalRdata: Buffer, now: number): Rrsig | undefined {
  if (canonicalRdata.length < 19) return undefined;
  // The signer's name starts at 18 and is uncompressed (RFC 4034 §3.1.7): walk its labels.
  let i = 18;
  const labels: string[] = [];
  while (i < canonicalRdata.length && canonicalRdata[i]! !== 0) {
    const len = canonicalRdata[i]!;
    if (len > 63 || i + 1 + len > canonicalRdata.length) return undefined;
    labels.push(canonicalRdata.subarray(i + 1, i + 1 + len).toString('latin1'));
    i += 1 + len;
  }
  if (i >= canonicalRdata.length) return undefined;
  const headEnd = i + 1;
  return {
    typeCovered: canonicalRdata.readUInt16BE(0),
    algorithm: canonicalRdata[2]!,
    labels: canonicalRdata[3]!,
    originalTtl: canonicalRdata.readUInt32BE(4),
    expiration: serialTime(canonicalRdata.readUInt32BE(8), now),
    inception: serialTime(canonicalRdata.readUInt32BE(12), now),
    keyTag: canonicalRdata.readUInt16BE(16),
    signer: labels.join('.'),
    signature: Buffer.from(canonicalRdata.subarray(headEnd)),
    signedHead: Buffer.from(canonicalRdata.subarray(0, headEnd)),
  };
}

const DS_HASH: Readonly<Record<number, string>> = { 1: 'sha1', 2: 'sha256', 4: 'sha384' };

/** The DS digest of a DNSKEY at `owner` (RFC 4034 §5.1.4); undefined for a digest type we cannot compute. */
export function dsDigest(owner: WireName, dnskey: Pick<Dnskey, 'rdata'>, digestType: number): Buffer | undefined {
  const hash = DS_HASH[digestType];
  if (!hash) return undefined;
  return createHash(hash).update(owner.canonical).update(dnskey.rdata).digest();
}

/** `example.org. IN DS 12345 13 2 ab…` for a key: the record to hand to the registrar. */
export function dsRecordText(owner: WireName, dnskey: Dnskey, digestType = 2): string {
  return `${owner.text}. IN DS ${dnskey.keyTag} ${dnskey.algorithm} ${digestType} ${dsDigest(owner, dnskey, digestType)!.toString('hex').toUpperCase()}`;
}

/** Does this DS name this DNSKEY (tag, algorithm and digest)? */
export function dsMatches(owner: WireName, ds: Ds, dnskey: Dnskey): boolean | undefined {
  if (ds.keyTag !== dnskey.keyTag || ds.algorithm !== dnskey.algorithm) return false;
  const d = dsDigest(owner, dnskey, ds.digestType);
  return d === undefined ? undefined : d.equals(ds.digest);
}

interface Scheme {
  readonly hash: string | null;
  readonly key: (pub: Buffer) => KeyObject;
  readonly p1363?: boolean;
}

const b64u = (b: Buffer): string => b.toString('base64url');

/** RFC 3110 §2: exponent length (1 octet, or 0 then 2 octets), exponent, modulus. */
function rsaKey(pub: Buffer): KeyObject {
  let off = 1;
  let elen = pub[0] ?? 0;
  if (elen === 0) {
    if (pub.length < 3) throw new Error('RSA key too short');
    elen = pub.readUInt16BE(1);
    off = 3;
  }
  if (pub.length <= off + elen) throw new Error('RSA key too short');
  return createPublicKey({ key: { kty: 'RSA', e: b64u(pub.subarray(off, off + elen)), n: b64u(pub.subarray(off + elen)) }, format: 'jwk' });
}

/** RFC 6605 §4: the point's X and Y, each the curve's size, no prefix. */
const ecKey = (crv: 'P-256' | 'P-384', size: number) => (pub: Buffer): KeyObject => {
  if (pub.length !== size * 2) throw new Error(`${crv} key of ${pub.length} octets`);
  return createPublicKey({ key: { kty: 'EC', crv, x: b64u(pub.subarray(0, size)), y: b64u(pub.subarray(size)) }, format: 'jwk' });
};

const edKey = (crv: 'Ed25519' | 'Ed448', size: number) => (pub: Buffer): KeyObject => {
  if (pub.length !== size) throw new Error(`${crv} key of ${pub.length} octets`);
  return createPublicKey({ key: { kty: 'OKP', crv, x: b64u(pub) }, format: 'jwk' });
};

const SCHEMES: Readonly<Record<number, Scheme>> = {
  5: { hash: 'sha1', key: rsaKey },
  7: { hash: 'sha1', key: rsaKey },
  8: { hash: 'sha256', key: rsaKey },
  10: { hash: 'sha512', key: rsaKey },
  13: { hash: 'sha256', key: ecKey('P-256', 32), p1363: true },
  14: { hash: 'sha384', key: ecKey('P-384', 48), p1363: true },
  15: { hash: null, key: edKey('Ed25519', 32) },
  16: { hash: null, key: edKey('Ed448', 57) },
};

export const supportedAlgorithm = (alg: number): boolean => alg in SCHEMES;

/** RSA modulus bits / curve size, for key-strength findings; undefined when the key does not decode. */
export function dnskeyBits(key: Dnskey): number | undefined {
  try {
    const k = SCHEMES[key.algorithm]?.key(key.publicKey);
    if (!k) return undefined;
    return k.asymmetricKeyDetails?.modulusLength ?? ({ 13: 256, 14: 384, 15: 256, 16: 456 } as Record<number, number>)[key.algorithm];
  } catch {
    return undefined;
  }
}

function wireLabels(name: WireName): Buffer[] {
  const out: Buffer[] = [];
  const w = name.canonical;
  for (let i = 0; w[i]! !== 0; i += w[i]! + 1) out.push(w.subarray(i, i + 1 + w[i]!));
  return out;
}

/**
 * The octets an RRSIG signs (RFC 4034 §3.1.8.1): its RDATA head, then each RR of the set
 * in canonical order (§6.3: by canonical RDATA, duplicates once) with the RRSIG's
 * original TTL, and the owner replaced by the wildcard it was expanded from when the
 * RRSIG's label count is lower (RFC 4035 §5.3.2). Undefined when the label count cannot fit.
 */
export function signedData(rrset: readonly WireRecord[], sig: Rrsig): Buffer | undefined {
  const first = rrset[0];
  if (!first) return undefined;
  const ownerLabels = first.owner.labelCount - (first.owner.wildcard ? 1 : 0);
  let owner: Buffer;
  if (sig.labels === ownerLabels) owner = first.owner.canonical;
  else if (sig.labels < ownerLabels) {
    const labels = wireLabels(first.owner);
    owner = Buffer.concat([Buffer.from([1, 0x2a]), ...labels.slice(labels.length - sig.labels), Buffer.from([0])]);
  } else return undefined;
  const rdatas = [...new Map(rrset.map((r) => [r.canonicalRdata.toString('hex'), r.canonicalRdata])).values()].sort(Buffer.compare);
  const parts: Buffer[] = [sig.signedHead];
  for (const rd of rdatas) {
    const fixed = Buffer.alloc(10);
    fixed.writeUInt16BE(first.type, 0);
    fixed.writeUInt16BE(first.class, 2);
    fixed.writeUInt32BE(sig.originalTtl, 4);
    fixed.writeUInt16BE(rd.length, 8);
    parts.push(owner, fixed, rd);
  }
  return Buffer.concat(parts);
}

export type SignatureStatus =
  /** Verifies with a key of the set, within its validity period. */
  | 'valid'
  /** Verifies, but its expiration is past. */
  | 'expired'
  /** Verifies, but its inception is in the future. */
  | 'not-yet-valid'
  /** A key with this tag and algorithm is in the set, and the signature does not verify with it. */
  | 'bad-signature'
  /** No zone key of the set has this tag and algorithm (or the signer is not the zone). */
  | 'no-key'
  | 'unsupported-algorithm';

export interface SignatureCheck {
  readonly status: SignatureStatus;
  readonly keyTag: number;
  readonly algorithm: number;
  readonly signer: string;
  readonly inception: number;
  readonly expiration: number;
  readonly detail: string;
}

export type RrsetStatus = SignatureStatus | 'unsigned';

export interface RrsetVerdict {
  /** The best any signature achieved: `valid` when at least one is. */
  readonly status: RrsetStatus;
  readonly checks: readonly SignatureCheck[];
  /** Earliest expiration among the valid signatures (ms), for "expires soon". */
  readonly validUntil?: number;
}

const RANK: readonly SignatureStatus[] = ['valid', 'expired', 'not-yet-valid', 'bad-signature', 'no-key', 'unsupported-algorithm'];

/** Checks one RRSIG over `rrset` with the zone's keys. `zone` is the signer every signature must name. */
export function checkSignature(rrset: readonly WireRecord[], sig: Rrsig, keys: readonly Dnskey[], zone: string, now: number): SignatureCheck {
  const base = { keyTag: sig.keyTag, algorithm: sig.algorithm, signer: sig.signer, inception: sig.inception, expiration: sig.expiration };
  if (sig.signer !== zone) return { ...base, status: 'no-key', detail: `signed by ${sig.signer || '.'}, not by the zone ${zone}` };
  const scheme = SCHEMES[sig.algorithm];
  if (!scheme) return { ...base, status: 'unsupported-algorithm', detail: `${algorithmName(sig.algorithm)} cannot be checked here` };
  const candidates = keys.filter((k) => k.keyTag === sig.keyTag && k.algorithm === sig.algorithm && k.zoneKey && k.protocol === 3 && !k.revoked);
  if (candidates.length === 0) return { ...base, status: 'no-key', detail: `no DNSKEY with tag ${sig.keyTag} and ${algorithmName(sig.algorithm)} in the zone's key set` };
  const data = signedData(rrset, sig);
  if (!data) return { ...base, status: 'bad-signature', detail: `RRSIG label count ${sig.labels} exceeds the owner's` };
  let verified = false;
  for (const k of candidates) {
    try {
      const key = scheme.key(k.publicKey);
      verified = verify(scheme.hash, data, scheme.p1363 ? { key, dsaEncoding: 'ieee-p1363' } : key, sig.signature);
    } catch {
      verified = false;
    }
    if (verified) break;
  }
  if (!verified) return { ...base, status: 'bad-signature', detail: `the ${algorithmName(sig.algorithm)} signature by key ${sig.keyTag} does not verify` };
  if (now > sig.expiration) return { ...base, status: 'expired', detail: `expired ${new Date(sig.expiration).toISOString()}` };
  if (now < sig.inception) return { ...base, status: 'not-yet-valid', detail: `not valid before ${new Date(sig.inception).toISOString()}` };
  return { ...base, status: 'valid', detail: `valid until ${new Date(sig.expiration).toISOString()}` };
}

/**
 * Every RRSIG in `section` covering (owner, type) checked against `keys`; the RRset's
 * verdict is the best of them (RFC 4035 §5.3.3: one valid signature suffices).
 */
export function verifyRrset(rrset: readonly WireRecord[], rrsigs: readonly WireRecord[], keys: readonly Dnskey[], zone: string, now: number): RrsetVerdict {
  const first = rrset[0];
  if (!first) return { status: 'unsigned', checks: [] };
  const sigs = rrsigs
    .filter((r) => r.owner.canonical.equals(first.owner.canonical) && r.class === first.class)
    .map((r) => parseRrsig(r.canonicalRdata, now))
    .filter((s): s is Rrsig => s !== undefined && s.typeCovered === first.type);
  if (sigs.length === 0) return { status: 'unsigned', checks: [] };
  const checks = sigs.map((s) => checkSignature(rrset, s, keys, zone, now));
  const best = RANK.find((status) => checks.some((c) => c.status === status)) ?? 'no-key';
  const valid = checks.filter((c) => c.status === 'valid');
  return { status: best, checks, ...(valid.length ? { validUntil: Math.min(...valid.map((c) => c.expiration)) } : {}) };
}

/** `MX` RRsets of a section grouped by owner and type (RRSIGs left out), for `verifyRrset`. */
export function rrsets(records: readonly WireRecord[]): WireRecord[][] {
  const groups = new Map<string, WireRecord[]>();
  for (const r of records) {
    if (r.type === 46) continue;
    const key = `${r.owner.canonical.toString('hex')}/${r.type}/${r.class}`;
    const g = groups.get(key);
    if (g) g.push(r);
    else groups.set(key, [r]);
  }
  return [...groups.values()];
}

export const rrsetLabel = (rrset: readonly WireRecord[]): string => (rrset[0] ? `${rrset[0].owner.text || '.'} ${typeName(rrset[0].type)}` : '(empty)');
