/**
 * The Authentication-Results header field (RFC 8601) as a typed value: parsed from incoming
 * headers, rendered for ours. One model both ways, so what we write is what we can read.
 *
 *   authres-header = "Authentication-Results:" [CFWS] authserv-id
 *                    [ CFWS authres-version ] ( no-result / 1*resinfo ) [CFWS] CRLF
 *   authserv-id    = value                  ; RFC 2045: token / quoted-string
 *   authres-version = 1*DIGIT [CFWS]
 *   no-result      = [CFWS] ";" [CFWS] "none"
 *   resinfo        = [CFWS] ";" methodspec [ CFWS reasonspec ] [ CFWS 1*propspec ]
 *   methodspec     = [CFWS] method [CFWS] "=" [CFWS] result
 *   method         = Keyword [ [CFWS] "/" [CFWS] method-version ]
 *   result         = Keyword
 *   reasonspec     = "reason" [CFWS] "=" [CFWS] value
 *   propspec       = ptype [CFWS] "." [CFWS] property [CFWS] "=" pvalue
 *   pvalue         = [CFWS] ( value / [ [ local-part ] "@" ] domain-name ) [CFWS]
 *
 * Parsing is strict about the structure and lenient about pvalue characters (other
 * verifiers write `header.b=ab/c+d=` unquoted; the property is still unambiguous). Rendering
 * is strict: a value that is neither an RFC 2045 token nor `local-part@domain` is quoted,
 * comments are escaped, control characters dropped, so no byte from the network can end
 * or fold our header field. RFC 6532: UTF-8 is allowed in values and comments.
 *
 * Forged-header removal does not depend on the strict parse: `claimedAuthservId` reads the
 * id the way a mail reader would show it — past leading odd white space and comments, up to
 * the first white space of any kind (U+00A0 …), a trailing dot dropped — so a header that
 * looks like ours to a human is treated as ours (attack-run findings).
 */

export interface AuthResProperty {
  /** `smtp`, `header`, `body`, `policy` (RFC 8601 §2.3), lower case. */
  readonly ptype: string;
  /** `mailfrom`, `d`, `from`, `dmarc` …, lower case. */
  readonly property: string;
  readonly value: string;
}

export interface AuthResResult {
  /** `spf`, `dkim`, `dmarc`, `arc`, `iprev` …, lower case. */
  readonly method: string;
  readonly methodVersion?: number;
  /** `pass`, `fail` …, lower case (RFC 8601 §2.7). */
  readonly result: string;
  /** reasonspec: why, for humans. */
  readonly reason?: string;
  /** A comment after the result (parsed: the comments there, joined by a space). */
  readonly comment?: string;
  readonly properties: readonly AuthResProperty[];
}

export interface AuthenticationResults {
  readonly authservId: string;
  /** authres-version; only 1 is defined. */
  readonly version?: number;
  /** Empty means `none` (no-result): no authentication was done. */
  readonly results: readonly AuthResResult[];
}

export type AuthResParse = { readonly ok: true; readonly header: AuthenticationResults } | { readonly ok: false; readonly reason: string };

export const AUTHENTICATION_RESULTS = 'Authentication-Results';

/** Bounds on what a parse builds from one (MTA-bounded) field. */
const MAX_RESULTS = 64;
const MAX_PROPERTIES = 32;
const MAX_COMMENT_DEPTH = 32;

const TSPECIALS = '()<>@,;:\\"/[]?=';
const isWsp = (c: string | undefined) => c === ' ' || c === '\t' || c === '\r' || c === '\n';
/** RFC 2045 token character: US-ASCII, not SPACE, CTL or tspecial. */
const isTokenChar = (c: string) => {
  const code = c.charCodeAt(0);
  return code > 0x20 && code < 0x7f && !TSPECIALS.includes(c);
};
const TOKEN = /^[!#$%&'*+\-.^_`{|}~0-9A-Za-z]+$/;
const KEYWORD = /^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$/;
/** dot-atom local part (RFC 5322 §3.4.1, UTF-8 allowed by RFC 6532) "@" domain-name. */
const ADDRESS = /^(?:(?:[!#$%&'*+\-/=?^_`{|}~0-9A-Za-z\u0080-\uffff]+(?:\.[!#$%&'*+\-/=?^_`{|}~0-9A-Za-z\u0080-\uffff]+)*)?@)?[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9])?)*\.?$/;

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The field's octets (latin1 chars) as text, UTF-8 where it is UTF-8. Octets that are not
 * UTF-8 stay one char each: a lone 0xA0 after our id is then U+00A0, odd white space a
 * latin1 reader shows as a gap — not U+FFFD, which would keep such a forgery (issue 16).
 */
function decodeOctets(value: string): string {
  if (!/[^\x00-\x7f]/.test(value) || /[^\x00-\xff]/.test(value)) return value;
  try {
    return UTF8.decode(Buffer.from(value, 'latin1'));
  } catch {
    return value;
  }
}

class ParseError extends Error {}

class Reader {
  readonly s: string;
  i = 0;
  constructor(s: string) {
    this.s = s;
  }
  get done(): boolean {
    return this.i >= this.s.length;
  }
  peek(): string | undefined {
    return this.s[this.i];
  }
  /** CFWS; returns the comments met (their text, unescaped). */
  cfws(): string[] {
    const comments: string[] = [];
    for (;;) {
      while (isWsp(this.peek())) this.i++;
      if (this.peek() !== '(') return comments;
      comments.push(this.comment());
    }
  }
  comment(): string {
    let depth = 0;
    let text = '';
    do {
      const c = this.s[this.i];
      if (c === undefined) throw new ParseError('unterminated comment');
      if (c === '\\') {
        const next = this.s[this.i + 1];
        if (next === undefined) throw new ParseError('unterminated comment');
        text += next;
        this.i += 2;
        continue;
      }
      if (c === '(') {
        if (++depth > MAX_COMMENT_DEPTH) throw new ParseError('comments nested too deep');
        if (depth > 1) text += c;
      } else if (c === ')') {
        if (--depth > 0) text += c;
      } else text += c === '\r' || c === '\n' ? '' : c;
      this.i++;
    } while (depth > 0);
    return text.trim();
  }
  quoted(): string {
    if (this.peek() !== '"') throw new ParseError('quoted string expected');
    this.i++;
    let out = '';
    for (;;) {
      const c = this.s[this.i];
      if (c === undefined) throw new ParseError('unterminated quoted string');
      this.i++;
      if (c === '"') return out;
      if (c === '\\') {
        const next = this.s[this.i];
        if (next === undefined) throw new ParseError('unterminated quoted string');
        out += next;
        this.i++;
      } else if (c !== '\r' && c !== '\n') out += c;
    }
  }
  token(): string {
    const start = this.i;
    while (!this.done && isTokenChar(this.s[this.i]!)) this.i++;
    if (this.i === start) throw new ParseError(`token expected at offset ${start}`);
    return this.s.slice(start, this.i);
  }
  /** RFC 2045 value = token / quoted-string. */
  value(): string {
    return this.peek() === '"' ? this.quoted() : this.token();
  }
  keyword(what: string): string {
    const start = this.i;
    while (!this.done && /[A-Za-z0-9-]/.test(this.s[this.i]!)) this.i++;
    const k = this.s.slice(start, this.i);
    if (!KEYWORD.test(k)) throw new ParseError(`${what} expected at offset ${start}`);
    return k.toLowerCase();
  }
  /** 1*DIGIT, at most 9 of them (no version number needs more); undefined when there is none. */
  version(what: string): number | undefined {
    const start = this.i;
    while (/[0-9]/.test(this.peek() ?? '')) this.i++;
    if (this.i === start) return undefined;
    if (this.i - start > 9) throw new ParseError(`${what} too long`);
    return Number(this.s.slice(start, this.i));
  }
  expect(c: string, what: string): void {
    if (this.peek() !== c) throw new ParseError(`"${c}" expected ${what} at offset ${this.i}`);
    this.i++;
  }
  /** pvalue: a quoted string (possibly the local part of an address), or a run of printable text. */
  pvalue(): string {
    if (this.peek() === '"') {
      const q = this.quoted();
      if (this.peek() !== '@') return q;
      this.i++;
      return `${q}@${this.run()}`;
    }
    return this.run();
  }
  run(): string {
    const start = this.i;
    for (let c = this.peek(); c !== undefined && !isWsp(c) && c !== ';' && c !== '(' && c !== ')' && c !== '"' && c.charCodeAt(0) > 0x1f && c !== '\x7f'; c = this.peek()) this.i++;
    if (this.i === start) throw new ParseError(`property value expected at offset ${start}`);
    return this.s.slice(start, this.i);
  }
}

function parseResinfo(r: Reader): AuthResResult {
  r.cfws();
  const method = r.keyword('method');
  r.cfws();
  let methodVersion: number | undefined;
  if (r.peek() === '/') {
    r.i++;
    r.cfws();
    methodVersion = r.version('method version');
    if (methodVersion === undefined) throw new ParseError('method version expected');
    r.cfws();
  }
  r.expect('=', `after method ${method}`);
  r.cfws();
  const result = r.keyword('result');
  const comments = r.cfws();
  let reason: string | undefined;
  const properties: AuthResProperty[] = [];
  for (;;) {
    if (r.done || r.peek() === ';') break;
    const save = r.i;
    const word = r.keyword('reason or property type');
    r.cfws();
    if (word === 'reason' && r.peek() === '=' && reason === undefined && properties.length === 0) {
      r.i++;
      r.cfws();
      reason = r.value();
      r.cfws();
      continue;
    }
    if (r.peek() !== '.') throw new ParseError(`"." expected after ${word} at offset ${save}`);
    r.i++;
    r.cfws();
    const property = r.keyword('property');
    r.cfws();
    r.expect('=', `after ${word}.${property}`);
    r.cfws();
    const value = r.pvalue();
    r.cfws();
    if (properties.length >= MAX_PROPERTIES) throw new ParseError(`more than ${MAX_PROPERTIES} properties`);
    properties.push({ ptype: word, property, value });
  }
  return {
    method,
    ...(methodVersion !== undefined ? { methodVersion } : {}),
    result,
    ...(reason !== undefined ? { reason } : {}),
    ...(comments.length ? { comment: comments.join(' ') } : {}),
    properties,
  };
}

/** Parses an Authentication-Results field value (the octets after the colon). */
export function parseAuthenticationResults(value: string): AuthResParse {
  const r = new Reader(decodeOctets(value));
  try {
    r.cfws();
    const authservId = r.value();
    let version: number | undefined;
    const afterId = r.i;
    if (r.cfws().length || isWsp(r.s[afterId])) {
      version = r.version('authres-version');
      if (version !== undefined) r.cfws();
    }
    const results: AuthResResult[] = [];
    if (r.done) throw new ParseError('no result after the authserv-id');
    while (!r.done) {
      r.expect(';', 'before a result');
      const save = r.i;
      r.cfws();
      // no-result: "; none" and nothing else.
      if (results.length === 0 && /^none$/i.test(r.s.slice(r.i, r.i + 4))) {
        r.i += 4;
        r.cfws();
        if (r.done) return { ok: true, header: { authservId, ...(version !== undefined ? { version } : {}), results: [] } };
      }
      r.i = save;
      if (results.length >= MAX_RESULTS) throw new ParseError(`more than ${MAX_RESULTS} results`);
      results.push(parseResinfo(r));
      r.cfws();
    }
    return { ok: true, header: { authservId, ...(version !== undefined ? { version } : {}), results } };
  } catch (err) {
    if (err instanceof ParseError) return { ok: false, reason: err.message };
    throw err;
  }
}

// ---------------------------------------------------------------- the authserv-id a reader sees

/** White space a mail reader may show as a gap or nothing: Unicode spaces, zero-width characters, controls. */
const ODD_SPACE = /[\s\u0000-\u001f\u007f-\u009f\u00ad\u180e\u200b-\u200f\u2028-\u202f\u205f-\u2064\u3000\ufeff]/u;

/** An authserv-id in comparable form: NFKC, lower case, ideographic dots as dots, trailing dots removed. */
export function normalizeAuthservId(id: string): string {
  return id
    .normalize('NFKC')
    .replace(/[\u3002\uff0e\uff61]/g, '.')
    .toLowerCase()
    .replace(/\.+$/, '');
}

/**
 * The authserv-id a field claims, read leniently (comments and odd white space skipped, the
 * id ends at any white space or ";"), normalized; undefined when there is none.
 */
export function claimedAuthservId(value: string): string | undefined {
  const s = decodeOctets(value);
  const r = new Reader(s);
  // Leading comments and any kind of white space.
  for (;;) {
    while (!r.done && ODD_SPACE.test(r.peek()!)) r.i++;
    if (r.peek() !== '(') break;
    try {
      r.comment();
    } catch {
      return undefined;
    }
  }
  let id: string;
  if (r.peek() === '"') {
    try {
      id = r.quoted();
    } catch {
      return undefined;
    }
  } else {
    const start = r.i;
    while (!r.done && r.peek() !== ';' && r.peek() !== '(' && !ODD_SPACE.test(r.peek()!)) r.i++;
    id = s.slice(start, r.i);
  }
  const n = normalizeAuthservId(id.replace(new RegExp(ODD_SPACE.source, 'gu'), ''));
  return n === '' ? undefined : n;
}

/** True when the field claims to come from `ourId` (and so, arriving from outside, is forged). */
export function claimsAuthservId(value: string, ourId: string): boolean {
  return claimedAuthservId(value) === normalizeAuthservId(ourId);
}

// ---------------------------------------------------------------- rendering

/** Longest comment or reason we write (they can carry text from DNS or the sender). */
const MAX_TEXT = 200;
/** Lines are folded before a property once they pass this many characters (RFC 5322 §2.1.1: 78). */
const FOLD_AT = 78;

function clean(text: string): string {
  const t = text.replace(/[\u0000-\u001f\u007f]+/g, ' ').replace(/ {2,}/g, ' ').trim();
  return t.length > MAX_TEXT ? `${t.slice(0, MAX_TEXT - 1)}…` : t;
}

function quote(text: string): string {
  return `"${text.replace(/[\u0000-\u001f\u007f]+/g, ' ').replace(/["\\]/g, (c) => `\\${c}`)}"`;
}

/** A value as RFC 8601 allows it: a token or `local@domain` as is, anything else quoted. */
export function renderValue(value: string): string {
  return TOKEN.test(value) || ADDRESS.test(value) ? value : quote(value);
}

function renderComment(text: string): string {
  return `(${clean(text).replace(/[()\\]/g, (c) => `\\${c}`)})`;
}

/** One resinfo without the leading ";": `dkim=pass (2048-bit key) header.d=example.org …`. */
export function renderResult(r: AuthResResult): string {
  if (!KEYWORD.test(r.method) || !KEYWORD.test(r.result)) throw new RangeError(`not an RFC 8601 keyword: ${r.method}=${r.result}`);
  const parts = [`${r.method}${r.methodVersion !== undefined ? `/${r.methodVersion}` : ''}=${r.result}`];
  if (r.comment) parts.push(renderComment(r.comment));
  if (r.reason !== undefined) parts.push(`reason=${quote(clean(r.reason))}`);
  for (const p of r.properties) {
    if (!KEYWORD.test(p.ptype) || !KEYWORD.test(p.property)) throw new RangeError(`not an RFC 8601 property: ${p.ptype}.${p.property}`);
    parts.push(`${p.ptype}.${p.property}=${renderValue(p.value)}`);
  }
  // Fold before a part that would take the line past FOLD_AT; the first part stays put.
  let out = parts[0]!;
  let line = out.length + 1; // the leading tab
  for (const part of parts.slice(1)) {
    if (line + 1 + part.length > FOLD_AT) {
      out += `\n\t  ${part}`;
      line = 3 + part.length;
    } else {
      out += ` ${part}`;
      line += 1 + part.length;
    }
  }
  return out;
}

/**
 * The field value (what follows `Authentication-Results:`), one resinfo per folded line,
 * LF line breaks (the milter's convention), as latin1 octets of its UTF-8 text.
 */
export function renderAuthenticationResults(ar: AuthenticationResults): string {
  // authserv-id is an RFC 2045 value: a token or a quoted string (no address form).
  const id = TOKEN.test(ar.authservId) ? ar.authservId : quote(ar.authservId);
  const head = ar.version !== undefined && ar.version !== 1 ? `${id} ${ar.version}` : id;
  const text = ar.results.length === 0 ? `${head}; none` : `${head};\n\t${ar.results.map(renderResult).join(';\n\t')}`;
  return Buffer.from(text, 'utf8').toString('latin1');
}
