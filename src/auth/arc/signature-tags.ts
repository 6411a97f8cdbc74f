/**
 * Tag rules shared by ARC-Seal and ARC-Message-Signature (RFC 8617 §4.1.2, §4.1.3, §4.2.1),
 * on top of the strict RFC 6376 §3.2 tag list (../dkim/tags.ts). Each check returns the
 * value or a reason; a field with any reason is invalid as a whole.
 */
import { normalizeDomain } from '../../mail/domain.ts';
import { compact, isBase64 } from '../dkim/tags.ts';

export type TagCheck<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

const ok = <T>(value: T): TagCheck<T> => ({ ok: true, value });
const bad = <T>(reason: string): TagCheck<T> => ({ ok: false, reason });

/** RFC 8617 §4.2.1: at most 50 ARC Sets; instance values 1..50. */
export const MAX_INSTANCE = 50;

/**
 * `i=` (§4.2.1): `i-val = 1*2DIGIT`, 1..50. The tag name is case-sensitive (RFC 6376 §3.2),
 * so `I=1` is an unknown tag and the instance is missing.
 */
export function instanceTag(value: string | undefined): TagCheck<number> {
  if (value === undefined) return bad('no i= tag');
  if (!/^[0-9]{1,2}$/.test(value)) return bad(`invalid i=${value}`);
  const n = Number(value);
  if (n < 1 || n > MAX_INSTANCE) return bad(`i=${value} outside 1..${MAX_INSTANCE}`);
  return ok(n);
}

/**
 * `a=` (§4.1.2/§4.1.3): RFC 8617 allows only rsa-sha256 — rsa-sha1 (which the 2018 drafts
 * still listed) and ed25519-sha256 (not registered for ARC) are invalid. ABNF literals are
 * case-insensitive.
 */
export function algorithmTag(value: string | undefined): TagCheck<'rsa-sha256'> {
  if (value === undefined) return bad('no a= tag');
  if (value.toLowerCase() !== 'rsa-sha256') return bad(value === '' ? 'empty a=' : `algorithm a=${value} is not rsa-sha256`);
  return ok('rsa-sha256');
}

/** `b=` / `bh=`: base64, whitespace ignored (RFC 6376 §3.5), not empty. */
export function base64Tag(name: string, value: string | undefined): TagCheck<Buffer> {
  if (value === undefined) return bad(`no ${name}= tag`);
  const v = compact(value);
  if (v === '') return bad(`empty ${name}=`);
  if (!isBase64(v) || v.length % 4 === 1) return bad(`${name}= is not base64`);
  return ok(Buffer.from(v, 'base64'));
}

/** `d=`: a domain name (RFC 6376 §3.5 sig-d-tag), compared in normalized form. */
export function domainTag(value: string | undefined): TagCheck<string> {
  if (value === undefined) return bad('no d= tag');
  const d = normalizeDomain(value);
  // A single label is not a signing domain; neither is anything that is not a host name.
  if (d === undefined || !d.includes('.')) return bad(value === '' ? 'empty d=' : `invalid d=${value}`);
  return ok(d);
}

/** `s=`: `selector = sub-domain *( "." sub-domain )` (RFC 6376 §3.1). */
export function selectorTag(value: string | undefined): TagCheck<string> {
  if (value === undefined) return bad('no s= tag');
  const s = normalizeDomain(value);
  if (s === undefined || value.endsWith('.')) return bad(value === '' ? 'empty s=' : `invalid s=${value}`);
  return ok(s);
}

/** `t=` / `x=`: `1*12DIGIT` seconds since the epoch (RFC 6376 §3.5); optional. */
export function timestampTag(name: string, value: string | undefined): TagCheck<number | undefined> {
  if (value === undefined) return ok(undefined);
  if (!/^[0-9]{1,12}$/.test(value)) return bad(value === '' ? `empty ${name}=` : `invalid ${name}=${value}`);
  return ok(Number(value));
}
