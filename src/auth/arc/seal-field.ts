/**
 * ARC-Seal (RFC 8617 §4.1.3), strict. The tag list is RFC 6376 §3.2's; the tags are `i`
 * (§4.2.1), `a`, `b`, `d`, `s`, `t` (RFC 6376 §3.5) and `cv`. "The DKIM "h" tag is NOT
 * allowed and, if found, MUST result in a cv status of "fail"". Other unknown tags are
 * ignored, as RFC 6376 §3.2 requires of unrecognised tags.
 */
import { parseTagList } from '../dkim/tags.ts';
import type { ArcFieldParse } from './field-parse.ts';
import { algorithmTag, base64Tag, domainTag, instanceTag, selectorTag, timestampTag } from './signature-tags.ts';

/** RFC 8617 §4.4: the Chain Validation Status a sealer recorded. */
export type SealCv = 'none' | 'pass' | 'fail';

export interface ArcSeal {
  readonly instance: number;
  readonly algorithm: 'rsa-sha256';
  readonly signature: Buffer;
  readonly cv: SealCv;
  /** `d=`, normalized. */
  readonly domain: string;
  readonly selector: string;
  readonly timestamp?: number;
}

export function parseArcSeal(value: string): ArcFieldParse<ArcSeal> {
  const list = parseTagList(value);
  if (!list.ok) return { ok: false, reason: `ARC-Seal tag list: ${list.reason}` };
  const tags = list.tags;
  const instance = instanceTag(tags.get('i'));
  if (!instance.ok) return { ok: false, reason: `ARC-Seal: ${instance.reason}` };
  const i = instance.value;
  const fail = (reason: string): ArcFieldParse<ArcSeal> => ({ ok: false, instance: i, reason: `ARC-Seal i=${i}: ${reason}` });
  if (tags.has('h')) return fail('h= is not allowed in an ARC-Seal (RFC 8617 §4.1.3)');
  const a = algorithmTag(tags.get('a'));
  if (!a.ok) return fail(a.reason);
  const b = base64Tag('b', tags.get('b'));
  if (!b.ok) return fail(b.reason);
  const cvRaw = tags.get('cv');
  if (cvRaw === undefined) return fail('no cv= tag');
  const cv = cvRaw.toLowerCase();
  if (cv !== 'none' && cv !== 'pass' && cv !== 'fail') return fail(cvRaw === '' ? 'empty cv=' : `invalid cv=${cvRaw}`);
  const d = domainTag(tags.get('d'));
  if (!d.ok) return fail(d.reason);
  const s = selectorTag(tags.get('s'));
  if (!s.ok) return fail(s.reason);
  const t = timestampTag('t', tags.get('t'));
  if (!t.ok) return fail(t.reason);
  return {
    ok: true,
    instance: i,
    value: { instance: i, algorithm: a.value, signature: b.value, cv, domain: d.value, selector: s.value, ...(t.value === undefined ? {} : { timestamp: t.value }) },
  };
}
