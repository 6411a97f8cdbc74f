/**
 * RFC 5322 §3.4 address lists, as the From field (and Sender, Reply-To) carries them: the
 * mailboxes with their local part and domain, or a typed reason there are none. Made for
 * DMARC's Author Domain (RFC 9989 §5.3.1), so it is strict where leniency would let a
 * message show one address to the reader and another to us:
 *
 * - A syntax error anywhere in the field makes the whole field unusable — no "best effort"
 *   address is picked out of `<<<><ceo@bank.example>>>` (that is how a parser and a mail
 *   reader come to disagree about the author).
 * - Display names are phrases: quoted strings, atoms, RFC 2047 encoded words. Nothing inside
 *   a display name or a comment is ever read as an address (`"alice@example.org via Group"
 *   <group@lists.example.net>` is one mailbox, in lists.example.net).
 * - Comments nest (§3.2.2) and separate tokens like white space.
 * - Groups (§3.4, allowed in From by RFC 6854): the members are the mailboxes; an empty group
 *   (`undisclosed-recipients:;`) contributes none.
 * - The obsolete forms real mail still uses are accepted (§4.4): empty list elements
 *   (`a@x, , b@y`), a route in the angle address (`<@relay:a@x>`), dots in a phrase
 *   (`John Q. Public`), white space around the dots of a local part or domain.
 * - 8-bit text is read as UTF-8 (RFC 6532: UTF-8 local parts, U-label domains); domains come
 *   out as A-labels in `normalizeDomain` form. An IP literal (`[192.0.2.1]`) or a domain no
 *   DNS name can have is a typed problem, not an author.
 *
 * The input is the header value as the MTA passed it (latin1 octets, folding kept); the
 * parser is a single pass over it, so its cost is linear in the (MTA-bounded) field size.
 */
import { normalizeDomain } from './domain.ts';

export interface Mailbox {
  /** The display name with RFC 2047 encoded words decoded, for logs; absent when none. */
  readonly displayName?: string;
  /** The local part without quoting (RFC 5322 §3.4.1); UTF-8 when SMTPUTF8 (RFC 6532). */
  readonly localPart: string;
  /** The domain in `normalizeDomain` form: lower case, A-labels (RFC 5890 §2.3.2.1). */
  readonly domain: string;
  /** The display name of the group the mailbox was listed in, if any. */
  readonly group?: string;
}

/** Why a field yields no usable mailbox. */
export type AddressProblem =
  /** Not RFC 5322 address-list syntax (unbalanced `<>`, quotes or comments, stray specials …). */
  | 'syntax'
  /** A mailbox without `@domain`: a bare phrase (`From: John`), or the null address `<>`. */
  | 'no-domain'
  /** An address literal (`user@[192.0.2.1]`): no DNS domain to look up. */
  | 'domain-literal'
  /** A domain no DNS name can be (bad label, over 253 octets, invalid IDN, not UTF-8). */
  | 'invalid-domain'
  /** More mailboxes than `MAX_MAILBOXES`. */
  | 'too-many';

export type AddressListResult =
  | { readonly ok: true; readonly mailboxes: readonly Mailbox[] }
  | { readonly ok: false; readonly problem: AddressProblem; readonly reason: string };

/** A From field listing more mailboxes than this is refused (nobody writes that many authors). */
export const MAX_MAILBOXES = 100;

/** RFC 5322 §3.2.2: comments may nest; a deeper nesting is refused rather than counted without end. */
const MAX_COMMENT_DEPTH = 32;

type TokenType = 'atom' | 'qstring' | 'dliteral' | 'special';

interface Token {
  readonly type: TokenType;
  /** Atom text, the unquoted content of a quoted string, the literal, or the special character. */
  readonly text: string;
  /** White space or a comment came before the token. */
  readonly spaced: boolean;
  /** The token holds a U+FFFD from bytes that are not UTF-8. */
  readonly broken: boolean;
}

class AddressSyntaxError extends Error {
  readonly problem: AddressProblem;
  constructor(problem: AddressProblem, message: string) {
    super(message);
    this.problem = problem;
  }
}

const SPECIALS = '()<>[]:;@\\,."';
const isWsp = (c: string) => c === ' ' || c === '\t' || c === '\r' || c === '\n';

/** RFC 5322 §3.2.3 atext, extended by RFC 6532 §3.2 with every non-ASCII character. */
function isAtext(c: string): boolean {
  const code = c.charCodeAt(0);
  if (code >= 0x80) return true;
  if (code <= 0x20 || code === 0x7f) return false;
  return !SPECIALS.includes(c);
}

/** The octets of the field as text: UTF-8 where they are UTF-8 (RFC 6532), U+FFFD where not. */
function decodeOctets(value: string): string {
  // Plain ASCII needs no work; this is nearly every From field. A string already holding
  // characters above U+00FF was decoded by the caller and is taken as it is.
  if (!/[^\x00-\x7f]/.test(value) || /[^\x00-\xff]/.test(value)) return value;
  return Buffer.from(value, 'latin1').toString('utf8');
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let spaced = false;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text[i]!;
    if (isWsp(c)) {
      spaced = true;
      i++;
      continue;
    }
    if (c === '(') {
      // §3.2.2: comment = "(" *([FWS] ccontent) [FWS] ")"; ccontent includes comments.
      let depth = 0;
      do {
        const d = text[i]!;
        if (d === '\\') i++;
        else if (d === '(') {
          if (++depth > MAX_COMMENT_DEPTH) throw new AddressSyntaxError('syntax', `comments nested deeper than ${MAX_COMMENT_DEPTH}`);
        } else if (d === ')') depth--;
        i++;
      } while (depth > 0 && i < n);
      if (depth > 0) throw new AddressSyntaxError('syntax', 'unterminated comment');
      spaced = true;
      continue;
    }
    if (c === '"') {
      // §3.2.4: quoted-string; the quoted-pair backslash is removed, folding unfolded.
      let out = '';
      i++;
      for (;;) {
        if (i >= n) throw new AddressSyntaxError('syntax', 'unterminated quoted string');
        const d = text[i]!;
        if (d === '"') break;
        if (d === '\\') {
          if (i + 1 >= n) throw new AddressSyntaxError('syntax', 'unterminated quoted string');
          out += text[i + 1];
          i += 2;
          continue;
        }
        if (d !== '\r' && d !== '\n') out += d;
        i++;
      }
      i++;
      tokens.push({ type: 'qstring', text: out, spaced, broken: out.includes('\ufffd') });
      spaced = false;
      continue;
    }
    if (c === '[') {
      // §3.4.1 domain-literal.
      const end = text.indexOf(']', i);
      if (end < 0) throw new AddressSyntaxError('syntax', 'unterminated domain literal');
      tokens.push({ type: 'dliteral', text: text.slice(i + 1, end), spaced, broken: false });
      spaced = false;
      i = end + 1;
      continue;
    }
    if ('<>:;@,.'.includes(c)) {
      tokens.push({ type: 'special', text: c, spaced, broken: false });
      spaced = false;
      i++;
      continue;
    }
    if (isAtext(c)) {
      let j = i + 1;
      while (j < n && isAtext(text[j]!)) j++;
      const atom = text.slice(i, j);
      tokens.push({ type: 'atom', text: atom, spaced, broken: atom.includes('\ufffd') });
      spaced = false;
      i = j;
      continue;
    }
    // A stray `)`, `]`, `\` or a control character: not address syntax.
    throw new AddressSyntaxError('syntax', `unexpected character U+${c.charCodeAt(0).toString(16).padStart(4, '0')} at offset ${i}`);
  }
  return tokens;
}

class Parser {
  readonly #tokens: readonly Token[];
  #i = 0;
  readonly mailboxes: Mailbox[] = [];

  constructor(tokens: readonly Token[]) {
    this.#tokens = tokens;
  }

  #peek(): Token | undefined {
    return this.#tokens[this.#i];
  }

  #isSpecial(t: Token | undefined, c: string): boolean {
    return t !== undefined && t.type === 'special' && t.text === c;
  }

  #expect(c: string, what: string): void {
    const t = this.#peek();
    if (!this.#isSpecial(t, c)) throw new AddressSyntaxError('syntax', `expected "${c}" ${what}, found ${t ? `"${t.text}"` : 'the end'}`);
    this.#i++;
  }

  /** address-list, with obs-addr-list's empty elements. */
  addressList(): void {
    for (;;) {
      while (this.#isSpecial(this.#peek(), ',')) this.#i++;
      if (!this.#peek()) return;
      this.#address();
      const t = this.#peek();
      if (!t) return;
      if (!this.#isSpecial(t, ',')) throw new AddressSyntaxError('syntax', `expected "," between addresses, found "${t.text}"`);
    }
  }

  /** phrase / obs-phrase: words and dots, as far as they go. */
  #phrase(): Token[] {
    const words: Token[] = [];
    for (let t = this.#peek(); t && (t.type === 'atom' || t.type === 'qstring' || this.#isSpecial(t, '.')); t = this.#peek()) {
      words.push(t);
      this.#i++;
    }
    return words;
  }

  #address(): void {
    const phrase = this.#phrase();
    const t = this.#peek();
    if (this.#isSpecial(t, ':')) {
      if (phrase.length === 0) throw new AddressSyntaxError('syntax', 'group without a display name');
      this.#i++;
      this.#group(displayText(phrase));
      return;
    }
    this.#mailboxAfterPhrase(phrase, undefined);
  }

  /** group = display-name ":" [group-list] ";" — a missing ";" at the very end is forgiven. */
  #group(name: string): void {
    for (;;) {
      while (this.#isSpecial(this.#peek(), ',')) this.#i++;
      const t = this.#peek();
      if (!t) return;
      if (this.#isSpecial(t, ';')) {
        this.#i++;
        return;
      }
      const phrase = this.#phrase();
      if (this.#isSpecial(this.#peek(), ':')) throw new AddressSyntaxError('syntax', 'a group inside a group');
      this.#mailboxAfterPhrase(phrase, name);
      const next = this.#peek();
      if (next && !this.#isSpecial(next, ',') && !this.#isSpecial(next, ';')) throw new AddressSyntaxError('syntax', `expected "," or ";" in group, found "${next.text}"`);
    }
  }

  /** mailbox = name-addr / addr-spec, the leading phrase already read. */
  #mailboxAfterPhrase(phrase: Token[], group: string | undefined): void {
    const t = this.#peek();
    if (this.#isSpecial(t, '<')) {
      this.#i++;
      const displayName = phrase.length ? displayText(phrase) : undefined;
      this.#angleAddr(displayName, group);
      return;
    }
    if (this.#isSpecial(t, '@')) {
      this.#i++;
      this.#push(localPartOf(phrase), this.#domain(), undefined, group);
      return;
    }
    if (phrase.length && (!t || this.#isSpecial(t, ',') || this.#isSpecial(t, ';'))) {
      throw new AddressSyntaxError('no-domain', `"${displayText(phrase)}" has no @domain`);
    }
    throw new AddressSyntaxError('syntax', `unexpected ${t ? `"${t.text}"` : 'end of field'}`);
  }

  /** angle-addr / obs-angle-addr (with an obs-route, which is ignored). */
  #angleAddr(displayName: string | undefined, group: string | undefined): void {
    if (this.#isSpecial(this.#peek(), '>')) throw new AddressSyntaxError('no-domain', 'the null address <> is no author');
    if (this.#isSpecial(this.#peek(), '@') || this.#isSpecial(this.#peek(), ',')) {
      // obs-route = obs-domain-list ":" ; obs-domain-list = *(CFWS / ",") "@" domain *("," [CFWS] ["@" domain])
      for (;;) {
        while (this.#isSpecial(this.#peek(), ',')) this.#i++;
        if (this.#isSpecial(this.#peek(), ':')) break;
        this.#expect('@', 'in the route of an angle address');
        this.#domain();
      }
      this.#expect(':', 'after the route');
    }
    const local = this.#phrase();
    this.#expect('@', 'in the angle address');
    const domain = this.#domain();
    this.#expect('>', 'closing the angle address');
    this.#push(localPartOf(local), domain, displayName, group);
  }

  /** domain = dot-atom / domain-literal / obs-domain, checked as a DNS name. */
  #domain(): string {
    const t = this.#peek();
    if (t?.type === 'dliteral') {
      this.#i++;
      throw new AddressSyntaxError('domain-literal', `address literal [${t.text}] has no DNS domain`);
    }
    const parts: string[] = [];
    let broken = false;
    for (;;) {
      const a = this.#peek();
      if (a?.type !== 'atom') throw new AddressSyntaxError('syntax', `expected a domain label, found ${a ? `"${a.text}"` : 'the end'}`);
      parts.push(a.text);
      broken ||= a.broken;
      this.#i++;
      if (!this.#isSpecial(this.#peek(), '.')) break;
      this.#i++;
      // A single trailing dot (`user@example.com.`) names the same DNS domain: accepted.
      if (this.#peek()?.type !== 'atom') break;
    }
    const written = parts.join('.');
    if (broken) throw new AddressSyntaxError('invalid-domain', 'domain holds bytes that are not UTF-8');
    const domain = normalizeDomain(written);
    if (!domain) throw new AddressSyntaxError('invalid-domain', `"${written}" is not a valid domain name`);
    return domain;
  }

  #push(localPart: string, domain: string, displayName: string | undefined, group: string | undefined): void {
    if (this.mailboxes.length >= MAX_MAILBOXES) throw new AddressSyntaxError('too-many', `more than ${MAX_MAILBOXES} mailboxes`);
    this.mailboxes.push({ localPart, domain, ...(displayName !== undefined ? { displayName } : {}), ...(group !== undefined ? { group } : {}) });
  }
}

/** local-part = dot-atom / quoted-string / obs-local-part (words joined by dots). */
function localPartOf(tokens: readonly Token[]): string {
  if (tokens.length === 0) throw new AddressSyntaxError('syntax', 'empty local part');
  let out = '';
  let wantWord = true;
  for (const t of tokens) {
    const isDot = t.type === 'special';
    if (isDot === wantWord) throw new AddressSyntaxError('syntax', wantWord ? 'local part with an empty dot-separated word' : 'local part with unquoted white space');
    out += t.text;
    wantWord = isDot;
  }
  if (wantWord) throw new AddressSyntaxError('syntax', 'local part ends with a dot');
  return out;
}

/**
 * The display text of a phrase: words joined by single spaces, RFC 2047 encoded words
 * decoded, the space between two adjacent encoded words dropped (RFC 2047 §6.2).
 */
function displayText(tokens: readonly Token[]): string {
  let out = '';
  let prevEncoded = false;
  for (const t of tokens) {
    const decoded = t.type === 'atom' ? decodeEncodedWord(t.text) : undefined;
    const sep = out === '' || !t.spaced || (decoded !== undefined && prevEncoded) ? '' : ' ';
    out += sep + (decoded ?? t.text);
    prevEncoded = decoded !== undefined;
  }
  return out;
}

const ENCODED_WORD = /^=\?([^?*]+)(?:\*[^?]*)?\?([bBqQ])\?([^?]*)\?=$/;

/** RFC 2047 §4: `=?charset?B|Q?text?=` → text; undefined when not an encoded word or not decodable. */
export function decodeEncodedWord(word: string): string | undefined {
  const m = ENCODED_WORD.exec(word);
  if (!m) return undefined;
  const [, charset, enc, text] = m as unknown as [string, string, string, string];
  let bytes: Buffer;
  if (enc === 'b' || enc === 'B') {
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return undefined;
    bytes = Buffer.from(text, 'base64');
  } else {
    const raw = text.replace(/_/g, ' ');
    const out: number[] = [];
    for (let i = 0; i < raw.length; i++) {
      if (raw[i] === '=' && /^[0-9A-Fa-f]{2}$/.test(raw.slice(i + 1, i + 3))) {
        out.push(parseInt(raw.slice(i + 1, i + 3), 16));
        i += 2;
      } else out.push(raw.charCodeAt(i) & 0xff);
    }
    bytes = Buffer.from(out);
  }
  try {
    return new TextDecoder(charset.toLowerCase()).decode(bytes);
  } catch {
    return undefined; // unknown charset: the word stays as written
  }
}

/** Parses an RFC 5322 address-list (the From field's mailbox-list is a special case of it). */
export function parseAddressList(value: string): AddressListResult {
  try {
    const p = new Parser(tokenize(decodeOctets(value)));
    p.addressList();
    return { ok: true, mailboxes: p.mailboxes };
  } catch (err) {
    if (err instanceof AddressSyntaxError) return { ok: false, problem: err.problem, reason: err.message };
    throw err;
  }
}
