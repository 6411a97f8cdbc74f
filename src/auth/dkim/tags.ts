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

export interface TagListOptions {
  /**
   * Accept octets 0x80–0xFF in values. RFC 6532 §3.2 extends VCHAR with UTF8-non-ascii in
   * internationalized headers, and RFC 8616 §4 lets the d=, i= and s= tags of a
   * DKIM-Signature carry U-labels and a UTF-8 local-part; DNS key records stay ASCII.
   * The text is the latin1 octet string of the header, so UTF-8 arrives as single octets.
   */
  readonly utf8?: boolean;
}

const SP = 0x20;
const TAB = 0x09;
const CR = 0x0d;
const LF = 0x0a;

function isWsp(c: number): boolean {
  return c === SP || c === TAB;
}

function isNameChar(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x5f;
}

function isAlpha(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

/** FWS as the milter hands it over: runs of WSP, and line breaks (LF or CRLF) followed by WSP. */
function skipFws(s: string, i: number): number {
  for (;;) {
    const c = s.charCodeAt(i);
    if (isWsp(c)) i++;
    else if (c === LF && isWsp(s.charCodeAt(i + 1))) i += 1;
    else if (c === CR && s.charCodeAt(i + 1) === LF && isWsp(s.charCodeAt(i + 2))) i += 2;
    else return i;
  }
}

export function parseTagList(text: string, options: TagListOptions = {}): TagListParse {
  const tags = new Map<string, string>();
  const highOk = options.utf8 === true;
  let i = 0;
  const n = text.length;
  for (;;) {
    i = skipFws(text, i);
    if (i >= n) {
      // The optional trailing ";" (then FWS) of the tag before; a list needs one tag-spec.
      return tags.size === 0 ? { ok: false, reason: 'empty tag list' } : { ok: true, tags };
    }
    const nameStart = i;
    while (i < n && isNameChar(text.charCodeAt(i))) i++;
    const name = text.slice(nameStart, i);
    if (name === '' || !isAlpha(name.charCodeAt(0))) return { ok: false, reason: `invalid tag name at offset ${nameStart}` };
    i = skipFws(text, i);
    if (text.charCodeAt(i) !== 0x3d) return { ok: false, reason: `tag ${name}: "=" expected` };
    i = skipFws(text, i + 1);
    // tag-value: tvals separated by FWS, up to ";" or the end. Whitespace inside the value
    // is kept as written; whitespace before ";" is the tag-spec's trailing FWS, dropped.
    const valueStart = i;
    let valueEnd = i;
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 0x3b) break;
      if ((c >= 0x21 && c <= 0x7e) || (highOk && c >= 0x80 && c <= 0xff)) {
        i++;
        valueEnd = i;
        continue;
      }
      const next = skipFws(text, i);
      if (next === i) return { ok: false, reason: `tag ${name}: invalid character 0x${c.toString(16).padStart(2, '0')} in value` };
      i = next;
    }
    if (tags.has(name)) return { ok: false, reason: `tag ${name} occurs twice` };
    tags.set(name, text.slice(valueStart, valueEnd));
    if (i >= n) return { ok: true, tags };
    i++; // ";"
  }
}

/** A value with all whitespace (FWS included) removed: b=, bh=, p= (§3.5: "whitespace is ignored"). */
export function compact(value: string): string {
  return value.replace(/[ \t\r\n]+/g, '');
}

/**
 * The base64 alphabet (RFC 6376 §2.4 base64string, after `compact`), in whole quanta:
 * RFC 2045 §6.8 base64 always pads to a multiple of four characters, so a value of another
 * length is truncated or corrupt and never decodes to what the signer wrote.
 */
export function isBase64(value: string): boolean {
  // With the length a multiple of four, at most two trailing "=" is exactly the valid padding.
  return value.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(value);
}
