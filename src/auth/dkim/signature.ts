/**
 * The DKIM-Signature header field (RFC 6376 §3.5), parsed strictly into a typed signature
 * or a typed reason it is unusable (§6.1.1: each such signature is a PERMFAIL, reported as
 * `permerror`). Pure: no DNS, no clock — the verifier decides x= against its injected time.
 *
 * Decisions (docs/inbound.md "DKIM"):
 * - v= is required and must be exactly "1": a pre-standard signature without v= (the
 *   DomainKeys-era drafts) is `version`, not verified (§3.5 "v= … REQUIRED"; §6.1.1).
 * - a= is rsa-sha256, ed25519-sha256 (RFC 8463 §3) or rsa-sha1, which parses but is never
 *   verified: RFC 8301 §3.1 "rsa-sha1 MUST NOT be used for signing or verifying".
 * - d=, s= and the domain of i= may be U-labels in internationalized mail (RFC 8616 §4); they
 *   are compared and looked up as A-labels, and hashed as written.
 * - Unknown tags are ignored (§3.2 "Unrecognized tags MUST be ignored"); z= is not used.
 */
import type { HeaderField } from '../../mail/header.ts';
import { isSubdomainOf, normalizeDomain } from '../../mail/domain.ts';
import type { DkimReasonCode } from '../results.ts';
import { parseCanonicalization, type Canon } from './canonicalize.ts';
import type { DkimKeyType } from './key-record.ts';
import { compact, isBase64, parseTagList } from './tags.ts';

export type DkimAlgorithm = 'rsa-sha256' | 'ed25519-sha256' | 'rsa-sha1';

export interface DkimSignature {
  /** The header field as received (name and value byte for byte): hashed as it is. */
  readonly field: HeaderField;
  readonly algorithm: DkimAlgorithm;
  readonly keyType: DkimKeyType;
  readonly hash: 'sha256' | 'sha1';
  /** b= decoded, and as written with whitespace removed (for `header.b`, RFC 6008). */
  readonly signature: Buffer;
  readonly signatureText: string;
  /** bh= decoded. */
  readonly bodyHash: Buffer;
  readonly headerCanon: Canon;
  readonly bodyCanon: Canon;
  /** d=, normalized (lower case A-label). */
  readonly domain: string;
  /** s=, normalized. */
  readonly selector: string;
  /** h=: field names, lower case, in order (repeats kept: they sign further instances, §5.4.2). */
  readonly signedHeaders: readonly string[];
  /** The AUID: i= decoded (local-part as written, domain as A-label), or "@" d= (§3.5). */
  readonly identity: string;
  /** The domain of the AUID, normalized. */
  readonly identityDomain: string;
  /** l=: canonical body octets covered; undefined = the whole body. */
  readonly bodyLength?: number;
  /** t= and x=, seconds since the epoch. */
  readonly timestamp?: number;
  readonly expiration?: number;
}

/** What could be read of an unusable signature, for Authentication-Results (`header.d` …). */
export interface SignatureIdentifiers {
  readonly domain?: string;
  readonly selector?: string;
  readonly algorithm?: string;
  readonly identity?: string;
  readonly signatureText?: string;
}

export type SignatureParse =
  | { readonly ok: true; readonly signature: DkimSignature }
  | { readonly ok: false; readonly code: DkimReasonCode; readonly reason: string; readonly seen: SignatureIdentifiers };

/**
 * A DKIM-Signature longer than this is not parsed. Real ones are under 2 KiB (an RSA-8192
 * b= is 1,366 octets; a long oversigned h= a few hundred); the bound keeps a hostile header
 * from costing more than a bounded scan.
 */
export const MAX_SIGNATURE_FIELD = 16 * 1024;

const REQUIRED = ['a', 'b', 'bh', 'd', 'h', 's'] as const;
/** §3.5 sig-t-tag / sig-x-tag: 1*12DIGIT; sig-l-tag: 1*76DIGIT. */
const TIMESTAMP = /^[0-9]{1,12}$/;
const LENGTH = /^[0-9]{1,76}$/;
/** RFC 5322 field-name = 1*ftext, ftext = %d33-57 / %d59-126. */
const FIELD_NAME = /^[\x21-\x39\x3b-\x7e]+$/;
/** dkim-safe-char = %x21-3A / %x3C / %x3E-7E, plus the UTF-8 octets RFC 8616 §4 allows. */
const QP_SAFE = /^[\x21-\x3a\x3c\x3e-\x7e\x80-\xff]$/;

const FWS_EDGES = /^[ \t\r\n]+|[ \t\r\n]+$/g;

/** A latin1 octet string holding UTF-8 (RFC 6532), as text; undefined when it is not UTF-8. */
function utf8(octets: string): string | undefined {
  if (!/[\x80-\xff]/.test(octets)) return octets;
  const text = Buffer.from(octets, 'latin1').toString('utf8');
  return text.includes('\ufffd') ? undefined : text;
}

/** A d=/s=/i= domain as written (octets) → normalized A-label form, or undefined. */
function domainOf(octets: string): string | undefined {
  const text = utf8(octets);
  return text === undefined ? undefined : normalizeDomain(text);
}

/** dkim-quoted-printable (§2.11) → octets (latin1 string), or undefined on a broken escape. FWS is ignored. */
function decodeDkimQp(value: string): string | undefined {
  const v = compact(value);
  let out = '';
  for (let i = 0; i < v.length; i++) {
    const c = v[i]!;
    if (c === '=') {
      const hex = v.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return undefined;
      out += String.fromCharCode(Number.parseInt(hex, 16));
      i += 2;
    } else if (QP_SAFE.test(c)) out += c;
    else return undefined;
  }
  return out;
}

export function parseDkimSignature(field: HeaderField): SignatureParse {
  const seen: { -readonly [K in keyof SignatureIdentifiers]: SignatureIdentifiers[K] } = {};
  const bad = (code: DkimReasonCode, reason: string): SignatureParse => ({ ok: false, code, reason, seen });

  if (field.value.length > MAX_SIGNATURE_FIELD) return bad('syntax', `signature field of ${field.value.length} octets (at most ${MAX_SIGNATURE_FIELD})`);
  const list = parseTagList(field.value, { utf8: true });
  if (!list.ok) return bad('syntax', `tag list: ${list.reason}`);
  const tags = list.tags;

  // Identifiers first, so even a rejected signature can be named in the header.
  const dRaw = tags.get('d');
  const sRaw = tags.get('s');
  const aRaw = tags.get('a');
  const bRaw = tags.get('b');
  const dNorm = dRaw === undefined ? undefined : domainOf(dRaw);
  const sNorm = sRaw === undefined ? undefined : domainOf(sRaw);
  if (dNorm !== undefined) seen.domain = dNorm;
  if (sNorm !== undefined) seen.selector = sNorm;
  if (aRaw !== undefined && /^[A-Za-z0-9-]{1,32}$/.test(aRaw)) seen.algorithm = aRaw.toLowerCase();
  const b = bRaw === undefined ? '' : compact(bRaw);
  const bOk = b !== '' && isBase64(b);
  if (bOk) seen.signatureText = b;

  const v = tags.get('v');
  if (v === undefined) return bad('version', 'no v= tag (pre-standard signature)');
  if (v !== '1') return bad('version', `incompatible version v=${v.slice(0, 16)}`);
  const missing = REQUIRED.filter((t) => !tags.has(t));
  if (missing.length) return bad('syntax', `signature missing required tag ${missing.map((t) => `${t}=`).join(', ')}`);

  // a= (§3.5 sig-a-tag; ABNF literals are case-insensitive, RFC 5234 §2.3)
  const algorithm = aRaw!.toLowerCase();
  if (algorithm !== 'rsa-sha256' && algorithm !== 'ed25519-sha256' && algorithm !== 'rsa-sha1') return bad('algorithm', `unsupported algorithm a=${aRaw!.slice(0, 32)}`);
  const keyType: DkimKeyType = algorithm === 'ed25519-sha256' ? 'ed25519' : 'rsa';
  const hash = algorithm === 'rsa-sha1' ? 'sha1' : 'sha256';

  // b=, bh= (base64string; FWS ignored)
  if (!bOk) return bad('syntax', 'b= is not base64');
  const bh = compact(tags.get('bh')!);
  if (bh === '' || !isBase64(bh)) return bad('syntax', 'bh= is not base64');

  // c= (default simple/simple; "relaxed" alone is relaxed/simple, §3.5)
  const cRaw = tags.get('c');
  const canon = parseCanonicalization(cRaw);
  if (!canon) return bad('canonicalization', `unsupported canonicalization c=${cRaw!.slice(0, 32)}`);
  const { header: headerCanon, body: bodyCanon } = canon;

  // d=, s=
  if (dNorm === undefined) return bad('syntax', 'd= is not a domain name');
  if (sNorm === undefined) return bad('syntax', 's= is not a selector');

  // h= (§3.5: colon-separated field names, MUST NOT be empty; From MUST be signed, §5.4)
  const signedHeaders: string[] = [];
  for (const raw of tags.get('h')!.split(':')) {
    const name = raw.replace(FWS_EDGES, '');
    if (!FIELD_NAME.test(name)) return bad('syntax', 'h= holds an empty or invalid field name');
    signedHeaders.push(name.toLowerCase());
  }
  if (!signedHeaders.includes('from')) return bad('from-not-signed', 'From field not signed');

  // i= (§3.5: [local-part] "@" domain, the domain d= or below it)
  let identity = `@${dNorm}`;
  let identityDomain = dNorm;
  const iRaw = tags.get('i');
  if (iRaw !== undefined) {
    const decoded = decodeDkimQp(iRaw);
    const at = decoded === undefined ? -1 : decoded.lastIndexOf('@');
    if (decoded === undefined || at < 0) return bad('syntax', 'i= is not an identity');
    const local = utf8(decoded.slice(0, at));
    const domain = domainOf(decoded.slice(at + 1));
    if (local === undefined || /[\x00-\x1f\x7f]/.test(local) || domain === undefined) return bad('syntax', 'i= is not an identity');
    identity = `${local}@${domain}`;
    identityDomain = domain;
    seen.identity = identity;
    if (!isSubdomainOf(domain, dNorm)) return bad('domain-mismatch', `i= domain ${domain} is not d=${dNorm} or below it`);
  }

  // l=
  const lRaw = tags.get('l');
  if (lRaw !== undefined && !LENGTH.test(lRaw)) return bad('syntax', 'l= is not a number');
  const bodyLength = lRaw === undefined ? undefined : Number(lRaw);

  // q= (§3.5: "dns/txt" is the only method; a list without it cannot be looked up)
  const qRaw = tags.get('q');
  if (qRaw !== undefined) {
    const methods = qRaw.split(':').map((m) => m.replace(FWS_EDGES, '').toLowerCase());
    if (!methods.includes('dns/txt')) return bad('query-method', `unsupported query method q=${qRaw.slice(0, 32)}`);
  }

  // t=, x= (§3.5: "the value of the x= tag MUST be greater than the value of the t= tag")
  const tRaw = tags.get('t');
  const xRaw = tags.get('x');
  if (tRaw !== undefined && !TIMESTAMP.test(tRaw)) return bad('syntax', 't= is not a timestamp');
  if (xRaw !== undefined && !TIMESTAMP.test(xRaw)) return bad('syntax', 'x= is not a timestamp');
  const timestamp = tRaw === undefined ? undefined : Number(tRaw);
  const expiration = xRaw === undefined ? undefined : Number(xRaw);
  if (timestamp !== undefined && expiration !== undefined && expiration <= timestamp) return bad('timestamps', 'x= is not after t=');

  return {
    ok: true,
    signature: {
      field,
      algorithm,
      keyType,
      hash,
      signature: Buffer.from(b, 'base64'),
      signatureText: b,
      bodyHash: Buffer.from(bh, 'base64'),
      headerCanon,
      bodyCanon,
      domain: dNorm,
      selector: sNorm,
      signedHeaders,
      identity,
      identityDomain,
      ...(bodyLength === undefined ? {} : { bodyLength }),
      ...(timestamp === undefined ? {} : { timestamp }),
      ...(expiration === undefined ? {} : { expiration }),
    },
  };
}
