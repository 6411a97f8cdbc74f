/**
 * The tag=value list of RFC 6376 §3.2, strict: DKIM-Signature, ARC-Seal,
 * ARC-Message-Signature and DKIM key records all use it.
 *
 *   tag-list  =  tag-spec *( ";" tag-spec ) [ ";" ]
 *   tag-spec  =  [FWS] tag-name [FWS] "=" [FWS] tag-value [FWS]
 *   tag-name  =  ALPHA *ALNUMPUNC          ; ALNUMPUNC = ALPHA / DIGIT / "_"
 *   tag-value =  [ tval *( 1*(WSP / FWS) tval ) ]
 *   tval      =  1*VALCHAR                 ; VALCHAR = %x21-3A / %x3C-7E
 *
 * A tag that occurs twice invalidates the whole list (§3.2). Values keep their inner
 * whitespace; callers that ignore it (b=, bh=, p=, h=) strip it themselves.
 */
export interface TagList {
  /** Tags in order of appearance; names as written (tag names are case-sensitive, §3.2). */
  readonly tags: ReadonlyMap<string, string>;
}

export type TagListParse = ({ readonly ok: true } & TagList) | { readonly ok: false; readonly reason: string };

const WSP = /[ \t]/;
const NAME = /^[A-Za-z][A-Za-z0-9_]*$/;

/** FWS as the milter hands it over: runs of WSP, and line breaks (LF or CRLF) followed by WSP. */
function skipFws(s: string, i: number): number {
  for (;;) {
    if (i < s.length && WSP.test(s[i]!)) i++;
    else if (s[i] === '\n' && WSP.test(s[i + 1] ?? '')) i += 1;
    else if (s[i] === '\r' && s[i + 1] === '\n' && WSP.test(s[i + 2] ?? '')) i += 2;
    else return i;
  }
}

export function parseTagList(text: string): TagListParse {
  const tags = new Map<string, string>();
  let i = 0;
  const n = text.length;
  for (;;) {
    i = skipFws(text, i);
    if (i >= n) {
      // Empty list, or the optional trailing ";" (then FWS) of the one before.
      return tags.size === 0 && text.trim() !== '' ? { ok: false, reason: 'empty tag list' } : { ok: true, tags };
    }
    const nameStart = i;
    while (i < n && /[A-Za-z0-9_]/.test(text[i]!)) i++;
    const name = text.slice(nameStart, i);
    if (!NAME.test(name)) return { ok: false, reason: `invalid tag name at offset ${nameStart}` };
    i = skipFws(text, i);
    if (text[i] !== '=') return { ok: false, reason: `tag ${name}: "=" expected` };
    i = skipFws(text, i + 1);
    // tag-value: tvals separated by FWS, up to ";" or the end.
    let value = '';
    let pendingSpace = '';
    while (i < n && text[i] !== ';') {
      const c = text.charCodeAt(i);
      if (c >= 0x21 && c <= 0x7e) {
        value += pendingSpace + text[i];
        pendingSpace = '';
        i++;
        continue;
      }
      const next = skipFws(text, i);
      if (next === i) return { ok: false, reason: `tag ${name}: invalid character 0x${c.toString(16).padStart(2, '0')} in value` };
      pendingSpace += text.slice(i, next);
      i = next;
    }
    if (tags.has(name)) return { ok: false, reason: `tag ${name} occurs twice` };
    tags.set(name, value);
    if (i >= n) return { ok: true, tags };
    i++; // ";"
  }
}

/** A value with all whitespace (FWS included) removed: b=, bh=, p= (§3.5: "whitespace is ignored"). */
export function compact(value: string): string {
  return value.replace(/[ \t\r\n]+/g, '');
}

/** The base64 alphabet (RFC 6376 §2.4 base64string, after `compact`). */
export function isBase64(value: string): boolean {
  return /^[A-Za-z0-9+/]*={0,2}$/.test(value);
}
