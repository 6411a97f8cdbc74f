/**
 * ARC-Message-Signature (RFC 8617 §4.1.2), strict: "the same syntax and semantics as the
 * DKIM-Signature field", except that there is no `v=` (ignored if present), `i=` is the
 * instance (§4.2.1) instead of the AUID, and only rsa-sha256 exists. Required: `i`, `a`,
 * `b`, `bh`, `d`, `h`, `s` (RFC 6376 §3.5); `c` defaults to simple/simple (§3.5), `l`, `t`
 * and `x` keep their DKIM meaning; unknown tags are ignored.
 */
import { parseCanonicalization, type Canon } from '../dkim/canonicalize.ts';
import { parseTagList } from '../dkim/tags.ts';
import type { ArcFieldParse } from './field-parse.ts';
import { algorithmTag, base64Tag, domainTag, instanceTag, selectorTag, timestampTag } from './signature-tags.ts';

export interface ArcMessageSignature {
  readonly instance: number;
  readonly algorithm: 'rsa-sha256';
  readonly signature: Buffer;
  readonly bodyHash: Buffer;
  readonly headerCanon: Canon;
  readonly bodyCanon: Canon;
  /** `d=`, normalized. */
  readonly domain: string;
  readonly selector: string;
  /** `h=`, lower case, in order; never empty, always with `from`. */
  readonly signedHeaders: readonly string[];
  /** `l=` (RFC 6376 §3.5): canonical body octets covered. */
  readonly bodyLength?: number;
  readonly timestamp?: number;
  readonly expires?: number;
}

/** RFC 5322 §3.6.8 field-name: printable US-ASCII except ":". */
const FIELD_NAME = /^[\x21-\x39\x3b-\x7e]+$/;

export function parseArcMessageSignature(value: string): ArcFieldParse<ArcMessageSignature> {
  const list = parseTagList(value);
  if (!list.ok) return { ok: false, reason: `ARC-Message-Signature tag list: ${list.reason}` };
  const tags = list.tags;
  const instance = instanceTag(tags.get('i'));
  if (!instance.ok) return { ok: false, reason: `ARC-Message-Signature: ${instance.reason}` };
  const i = instance.value;
  const fail = (reason: string): ArcFieldParse<ArcMessageSignature> => ({ ok: false, instance: i, reason: `ARC-Message-Signature i=${i}: ${reason}` });
  const a = algorithmTag(tags.get('a'));
  if (!a.ok) return fail(a.reason);
  const b = base64Tag('b', tags.get('b'));
  if (!b.ok) return fail(b.reason);
  const bh = base64Tag('bh', tags.get('bh'));
  if (!bh.ok) return fail(bh.reason);
  // rsa-sha256: bh= is a SHA-256 digest.
  if (bh.value.length !== 32) return fail(`bh= is ${bh.value.length} octets, not a SHA-256 digest`);
  const c = parseCanonicalization(tags.get('c'));
  if (!c) return fail(`invalid c=${tags.get('c')}`);
  const d = domainTag(tags.get('d'));
  if (!d.ok) return fail(d.reason);
  const s = selectorTag(tags.get('s'));
  if (!s.ok) return fail(s.reason);
  const hRaw = tags.get('h');
  if (hRaw === undefined) return fail('no h= tag');
  // An empty entry (`from::to`) is outside RFC 6376's ABNF but names no field, so ignoring
  // it cannot make anything unsigned count as signed (the ValiMail suite expects this).
  const signedHeaders = hRaw
    .split(':')
    .map((n) => n.replace(/[ \t\r\n]+/g, '').toLowerCase())
    .filter((n) => n !== '');
  if (signedHeaders.some((n) => !FIELD_NAME.test(n))) return fail(`invalid h=${hRaw}`);
  // RFC 6376 §3.5 h=: "This list MUST NOT be empty"; §6.1.1: without From the signature is
  // ignored (PERMFAIL) — an AMS that does not cover From would let the From under the
  // sealer's results be replaced.
  if (signedHeaders.length === 0) return fail('h= is empty');
  if (!signedHeaders.includes('from')) return fail('h= does not include From (RFC 6376 §6.1.1)');
  // §4.1.2: ARC header fields MUST NOT be in h=. A validator cannot tell a sealer that broke
  // this rule from an attacker, so it fails the AMS that covers an ARC-Seal (the draft rule
  // the ValiMail suite tests); AAR and AMS entries are tolerated for chains sealed under the
  // drafts, which asked for the AAR to be signed (docs/inbound.md "ARC").
  if (signedHeaders.includes('arc-seal')) return fail('h= covers ARC-Seal (RFC 8617 §4.1.2)');
  const lRaw = tags.get('l');
  if (lRaw !== undefined && !/^[0-9]{1,76}$/.test(lRaw)) return fail(`invalid l=${lRaw}`);
  const t = timestampTag('t', tags.get('t'));
  if (!t.ok) return fail(t.reason);
  const x = timestampTag('x', tags.get('x'));
  if (!x.ok) return fail(x.reason);
  // RFC 6376 §3.5: "the value of the "x=" tag MUST be greater than the value of the "t=" tag".
  if (t.value !== undefined && x.value !== undefined && x.value <= t.value) return fail('x= is not after t=');
  return {
    ok: true,
    instance: i,
    value: {
      instance: i,
      algorithm: a.value,
      signature: b.value,
      bodyHash: bh.value,
      headerCanon: c.header,
      bodyCanon: c.body,
      domain: d.value,
      selector: s.value,
      signedHeaders,
      ...(lRaw === undefined ? {} : { bodyLength: Number(lRaw) }),
      ...(t.value === undefined ? {} : { timestamp: t.value }),
      ...(x.value === undefined ? {} : { expires: x.value }),
    },
  };
}
