/**
 * SPF macros (RFC 7208 §7): parsed once with the record into tokens, expanded per check.
 *
 *   macro-string = *( macro-expand / macro-literal )
 *   macro-expand = ( "%{" macro-letter transformers *delimiter "}" ) / "%%" / "%_" / "%-"
 *   macro-literal = %x21-24 / %x26-7E          ; visible characters except "%"
 *   macro-letter = "s" / "l" / "o" / "d" / "i" / "p" / "h" / "c" / "r" / "t" / "v"
 *   transformers = *DIGIT [ "r" ]
 *   delimiter    = "." / "-" / "+" / "," / "/" / "_" / "="
 *   explain-string = *( macro-string / SP )
 *
 * ABNF literals are case-insensitive, so "%{S}" and "%{ir}"/"%{iR}" parse; an upper-case
 * macro letter means "URL-escape the expansion" (§7.3). c, r and t are "allowed only in
 * exp text" (§7.3): in a domain-spec they are a syntax error.
 */

export type MacroLetter = 's' | 'l' | 'o' | 'd' | 'i' | 'p' | 'h' | 'c' | 'r' | 't' | 'v';

export interface MacroExpand {
  readonly letter: MacroLetter;
  /** Upper-case letter: URL-escape the result (§7.3). */
  readonly escape: boolean;
  /** Right-hand parts to keep; 0 = all (a written 0 is a syntax error, §7.3). */
  readonly keep: number;
  readonly reverse: boolean;
  /** Characters to split on; '' = the default ".". */
  readonly delimiters: string;
}

/** A literal run (with %%, %_ and %- already turned into "%", " " and "%20") or an expansion. */
export type MacroToken = string | MacroExpand;

export interface MacroString {
  /** As written in the record. */
  readonly text: string;
  readonly tokens: readonly MacroToken[];
  /** The letters used, lower case. */
  readonly letters: ReadonlySet<MacroLetter>;
  /** The last token is a macro-expand (incl. %%, %_, %-): a domain-spec may then end without a top label (§7.1 domain-end). */
  readonly endsWithExpand: boolean;
  /** The literal characters after the last macro-expand, as written. */
  readonly trailingLiteral: string;
}

/** Where a macro-string occurs: a domain-spec, an explanation string (§6.2), an unknown modifier's value. */
export type MacroContext = 'domain' | 'explain' | 'modifier';

export type MacroParse = { readonly ok: true; readonly macro: MacroString } | { readonly ok: false; readonly reason: string };

const LETTERS = 'sloidphcrtv';
const EXP_ONLY = 'crt';
const DELIMITERS = '.-+,/_=';

/**
 * Parses a macro-string. In an explanation, SP is allowed and so are c, r and t. In an
 * unknown modifier's value the grammar is `macro-string` and nothing more: the value is
 * never expanded, so the "exp only" letters are not an error there (a future modifier
 * may define them; RFC 7208 §6 asks only for valid macro syntax).
 */
export function parseMacroString(text: string, context: MacroContext): MacroParse {
  const tokens: MacroToken[] = [];
  const letters = new Set<MacroLetter>();
  let literal = '';
  let trailingStart = 0;
  let endsWithExpand = false;
  const n = text.length;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c !== 0x25) {
      if ((c >= 0x21 && c <= 0x7e) || (c === 0x20 && context === 'explain')) {
        literal += text[i];
        i++;
        endsWithExpand = false;
        continue;
      }
      return { ok: false, reason: `invalid character 0x${c.toString(16).padStart(2, '0')} at offset ${i}` };
    }
    const next = text[i + 1];
    if (next === '%' || next === '_' || next === '-') {
      literal += next === '%' ? '%' : next === '_' ? ' ' : '%20';
      i += 2;
      endsWithExpand = true;
      trailingStart = i;
      continue;
    }
    if (next !== '{') return { ok: false, reason: `"%" not followed by "{", "%", "_" or "-" at offset ${i} (RFC 7208 §7.1)` };
    const close = text.indexOf('}', i + 2);
    if (close === -1) return { ok: false, reason: `unterminated macro at offset ${i}` };
    const parsed = parseExpand(text.slice(i + 2, close), context);
    if (typeof parsed === 'string') return { ok: false, reason: `${parsed} in "${text.slice(i, close + 1)}"` };
    if (literal !== '') tokens.push(literal);
    literal = '';
    tokens.push(parsed);
    letters.add(parsed.letter);
    i = close + 1;
    endsWithExpand = true;
    trailingStart = i;
  }
  if (literal !== '') tokens.push(literal);
  return { ok: true, macro: { text, tokens, letters, endsWithExpand, trailingLiteral: text.slice(trailingStart) } };
}

function parseExpand(body: string, context: MacroContext): MacroExpand | string {
  const raw = body[0];
  if (raw === undefined) return 'empty macro';
  const letter = raw.toLowerCase();
  if (!LETTERS.includes(letter)) return `unknown macro letter "${raw}"`;
  if (context === 'domain' && EXP_ONLY.includes(letter)) return `macro letter "${raw}" is allowed only in exp text (RFC 7208 §7.3)`;
  let i = 1;
  let digits = '';
  while (i < body.length && body.charCodeAt(i) >= 0x30 && body.charCodeAt(i) <= 0x39) digits += body[i++];
  let keep = 0;
  if (digits !== '') {
    // Any count beyond the parts available means all of them (§7.3); cap before converting.
    keep = digits.replace(/^0+/, '').length > 4 ? 9999 : Number(digits);
    if (keep === 0) return 'a macro part count must be nonzero (RFC 7208 §7.3)';
  }
  let reverse = false;
  if (body[i] === 'r' || body[i] === 'R') {
    reverse = true;
    i++;
  }
  let delimiters = '';
  for (; i < body.length; i++) {
    const d = body[i]!;
    if (!DELIMITERS.includes(d)) return `invalid macro transformer or delimiter "${d}"`;
    if (!delimiters.includes(d)) delimiters += d;
  }
  return { letter: letter as MacroLetter, escape: raw !== letter, keep, reverse, delimiters: delimiters === '.' ? '' : delimiters };
}

/** The values the macro letters stand for in one check_host() (RFC 7208 §7.3). */
export interface MacroValues {
  /** %{s}: <sender>, local-part "@" domain. */
  readonly sender: string;
  /** %{l}: local-part of <sender>. */
  readonly local: string;
  /** %{o}: domain of <sender>. */
  readonly senderDomain: string;
  /** %{d}: <domain>, the domain whose record is being evaluated. */
  readonly domain: string;
  /** %{i}. */
  readonly ipDots: string;
  /** %{c}. */
  readonly ipText: string;
  /** %{v}: "in-addr" or "ip6". */
  readonly ipVersion: string;
  /** %{h}: the HELO/EHLO name as given. */
  readonly helo: string;
  /** %{r}. */
  readonly receiver: string;
  /** %{t}: seconds since the epoch. */
  readonly timestamp: string;
  /** %{p}: the validated domain name of the client, or "unknown"; resolved by the caller when the string uses it. */
  readonly ptr: string;
}

function value(letter: MacroLetter, v: MacroValues): string {
  switch (letter) {
    case 's':
      return v.sender;
    case 'l':
      return v.local;
    case 'o':
      return v.senderDomain;
    case 'd':
      return v.domain;
    case 'i':
      return v.ipDots;
    case 'p':
      return v.ptr;
    case 'h':
      return v.helo;
    case 'c':
      return v.ipText;
    case 'r':
      return v.receiver;
    case 't':
      return v.timestamp;
    case 'v':
      return v.ipVersion;
  }
}

/** One macro-expand: split, reverse, keep the right-hand parts, join with "." (§7.3), then escape. */
export function expandOne(m: MacroExpand, values: MacroValues): string {
  let s = value(m.letter, values);
  if (m.reverse || m.keep !== 0 || m.delimiters !== '') {
    let parts = m.delimiters === '' ? s.split('.') : splitOn(s, m.delimiters);
    if (m.reverse) parts.reverse();
    if (m.keep !== 0 && m.keep < parts.length) parts = parts.slice(parts.length - m.keep);
    s = parts.join('.');
  }
  return m.escape ? urlEscape(s) : s;
}

function splitOn(s: string, delimiters: string): string[] {
  const parts: string[] = [];
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    if (delimiters.includes(s[i]!)) {
      parts.push(s.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(s.slice(start));
  return parts;
}

/**
 * §7.3: "URL escaping MUST be performed for characters not in the 'unreserved' set" of
 * RFC 3986 (ALPHA / DIGIT / "-" / "." / "_" / "~"); octets of the UTF-8 form, upper-case hex.
 */
export function urlEscape(s: string): string {
  if (/^[A-Za-z0-9._~-]*$/.test(s)) return s;
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    const ch = String.fromCharCode(b);
    out += /[A-Za-z0-9._~-]/.test(ch) ? ch : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** The whole string expanded, capped at `maxLength` characters (explanations: third-party text). */
export function expandMacroString(m: MacroString, values: MacroValues, maxLength = Number.POSITIVE_INFINITY): string {
  let out = '';
  for (const t of m.tokens) {
    out += typeof t === 'string' ? t : expandOne(t, values);
    if (out.length > maxLength) return out.slice(0, maxLength);
  }
  return out;
}

/**
 * The right-hand end of the expansion, at most `keep` characters: a domain-spec's target
 * name only needs its last 253 characters plus one (§7.3 truncation removes labels from the
 * left), so a record full of %{s} cannot make us build megabytes of text.
 */
export function expandTail(m: MacroString, values: MacroValues, keep: number): string {
  let out = '';
  for (let i = m.tokens.length - 1; i >= 0; i--) {
    const t = m.tokens[i]!;
    out = (typeof t === 'string' ? t : expandOne(t, values)) + out;
    if (out.length > keep) return out.slice(out.length - keep);
  }
  return out;
}
