/**
 * The SPF record parser (RFC 7208 §4.5, §4.6, §5, §6, §12): a record's text → typed terms,
 * or a typed syntax error. The whole record is parsed before anything is evaluated (§4.6:
 * a syntax error anywhere is a permerror, even after the term that would match), and the
 * domain-audit checks of published records reuse it.
 *
 *   record    = version terms *SP
 *   version   = "v=spf1"
 *   terms     = *( 1*SP ( directive / modifier ) )
 *   directive = [ qualifier ] mechanism
 *   modifier  = redirect / explanation / unknown-modifier
 *   unknown-modifier = name "=" macro-string  ; name is not a known modifier
 *   name      = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." )
 *
 * ABNF strings are case-insensitive: "V=SPF1", "Include:", "REDIRECT=" are valid. Terms are
 * separated by SP only: a TAB, CR or LF anywhere is a syntax error (the record is limited
 * to printable US-ASCII and SP, §3.1/§4.6.1).
 */
import { parseIp4, parseIp6 } from './ip-address.ts';
import { parseMacroString, type MacroString } from './macro.ts';

export type SpfQualifier = '+' | '-' | '~' | '?';

/** A domain-spec (§7.1): a macro-string ending in "." toplabel [ "." ] or a macro-expand. */
export interface DomainSpec {
  readonly macro: MacroString;
  /** The spec's text when it has no macro letters (its target name is fixed). */
  readonly literal?: string;
}

export type SpfMechanism =
  | { readonly kind: 'all' }
  | { readonly kind: 'include'; readonly domain: DomainSpec }
  | { readonly kind: 'a' | 'mx'; readonly domain?: DomainSpec; readonly cidr4: number; readonly cidr6: number }
  | { readonly kind: 'ptr'; readonly domain?: DomainSpec }
  | { readonly kind: 'ip4' | 'ip6'; readonly network: Uint8Array; readonly prefix: number }
  | { readonly kind: 'exists'; readonly domain: DomainSpec };

export interface SpfDirective {
  readonly type: 'directive';
  readonly qualifier: SpfQualifier;
  readonly mechanism: SpfMechanism;
  /** The term as written. */
  readonly text: string;
}

export interface SpfModifier {
  readonly type: 'modifier';
  /** Lower case. */
  readonly name: string;
  readonly value: MacroString;
  readonly text: string;
}

export type SpfTerm = SpfDirective | SpfModifier;

export interface SpfRecord {
  readonly text: string;
  /** Every term in record order. */
  readonly terms: readonly SpfTerm[];
  /** The mechanisms, in order of evaluation. */
  readonly directives: readonly SpfDirective[];
  readonly redirect?: DomainSpec;
  readonly explanation?: DomainSpec;
  /** An "all" mechanism is present: any redirect is ignored (§5.1). */
  readonly hasAll: boolean;
  /** Terms that cause DNS queries when evaluated (include, a, mx, ptr, exists, redirect; §4.6.4). */
  readonly lookupTerms: number;
}

export type SpfSyntaxErrorCode =
  | 'not-spf1'
  | 'invalid-character'
  | 'unknown-mechanism'
  | 'invalid-mechanism'
  | 'invalid-domain-spec'
  | 'invalid-macro'
  | 'invalid-cidr'
  | 'invalid-ip'
  | 'invalid-modifier'
  | 'duplicate-modifier';

export interface SpfSyntaxError {
  readonly code: SpfSyntaxErrorCode;
  readonly message: string;
  /** The offending term as written, and its position (1 = the first term after "v=spf1"). */
  readonly term?: string;
  readonly termIndex?: number;
}

export type SpfRecordParse = { readonly ok: true; readonly record: SpfRecord } | { readonly ok: false; readonly error: SpfSyntaxError };

const VERSION = /^v=spf1(?: |$)/i;

/**
 * Record selection (§4.5): a TXT record is an SPF record when it begins with "v=spf1"
 * followed by SP or its end ("v=spf10" and "v=spf1mx" are other records). The strings of
 * one TXT record are joined without separator before this test (§3.3).
 */
export function isSpfRecord(text: string): boolean {
  return VERSION.test(text);
}

const MODIFIER = /^([A-Za-z][A-Za-z0-9_.-]*)=/;
/** a / mx: [ ":" domain-spec ] [ ip4-cidr-length ] [ "/" ip6-cidr-length ] */
const DUAL_CIDR = /^(?::(.*?))?(?:\/([0-9]+))?(?:\/\/([0-9]+))?$/s;
/** ip4-cidr-length = "/" ("0" / %x31-39 0*1DIGIT), value 0-32; ip6 up to three digits, 0-128 (§5.6). */
const CIDR4 = /^(?:0|[1-9][0-9]?)$/;
const CIDR6 = /^(?:0|[1-9][0-9]{0,2})$/;
/** toplabel = ( *alphanum ALPHA *alphanum ) / ( 1*alphanum "-" *( alphanum / "-" ) alphanum ) */
const TOPLABEL = /^(?:[A-Za-z0-9]*[A-Za-z][A-Za-z0-9]*|[A-Za-z0-9]+-[A-Za-z0-9-]*[A-Za-z0-9])$/;

type Fault = { readonly code: SpfSyntaxErrorCode; readonly message: string };

export function parseSpfRecord(text: string): SpfRecordParse {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) {
      return fail({ code: 'invalid-character', message: `character 0x${c.toString(16).padStart(2, '0')} at offset ${i}: a record holds printable US-ASCII and SP only (RFC 7208 §3.1, §4.6.1)` });
    }
  }
  if (!VERSION.test(text)) return fail({ code: 'not-spf1', message: 'the record does not begin with "v=spf1" and SP (RFC 7208 §4.5)' });

  const terms: SpfTerm[] = [];
  const directives: SpfDirective[] = [];
  let redirect: DomainSpec | undefined;
  let explanation: DomainSpec | undefined;
  let hasAll = false;
  let lookupTerms = 0;
  let index = 0;
  for (const word of text.slice(6).split(' ')) {
    if (word === '') continue;
    index++;
    const modifier = MODIFIER.exec(word);
    if (modifier) {
      const name = modifier[1]!.toLowerCase();
      const value = word.slice(modifier[0].length);
      if (name === 'redirect' || name === 'exp') {
        // §6: "These two modifiers MUST NOT appear in a record more than once each."
        if ((name === 'redirect' ? redirect : explanation) !== undefined) return fail({ code: 'duplicate-modifier', message: `"${name}=" appears twice (RFC 7208 §6)` }, word, index);
        const spec = parseDomainSpec(value);
        if ('code' in spec) return fail(spec, word, index);
        if (name === 'redirect') {
          redirect = spec;
          lookupTerms++;
        } else {
          explanation = spec;
        }
        const macro = spec.macro;
        terms.push({ type: 'modifier', name, value: macro, text: word });
        continue;
      }
      const macro = parseMacroString(value, 'modifier');
      if (!macro.ok) return fail({ code: 'invalid-macro', message: `modifier "${name}": ${macro.reason}` }, word, index);
      terms.push({ type: 'modifier', name, value: macro.macro, text: word });
      continue;
    }
    const directive = parseDirective(word);
    if ('code' in directive) return fail(directive, word, index);
    const kind = directive.mechanism.kind;
    if (kind === 'all') hasAll = true;
    else if (kind !== 'ip4' && kind !== 'ip6') lookupTerms++;
    terms.push(directive);
    directives.push(directive);
  }
  const record: SpfRecord = {
    text,
    terms,
    directives,
    ...(redirect ? { redirect } : {}),
    ...(explanation ? { explanation } : {}),
    hasAll,
    lookupTerms,
  };
  return { ok: true, record };
}

function fail(fault: Fault, term?: string, termIndex?: number): { ok: false; error: SpfSyntaxError } {
  const where = term === undefined ? '' : ` in term ${termIndex} "${term.length > 80 ? `${term.slice(0, 80)}…` : term}"`;
  return {
    ok: false,
    error: { code: fault.code, message: `${fault.message}${where}`, ...(term === undefined ? {} : { term, termIndex: termIndex! }) },
  };
}

function parseDirective(word: string): SpfDirective | Fault {
  let qualifier: SpfQualifier = '+';
  let body = word;
  const q = word[0];
  if (q === '+' || q === '-' || q === '~' || q === '?') {
    qualifier = q;
    body = word.slice(1);
  }
  let sep = 0;
  while (sep < body.length && body[sep] !== ':' && body[sep] !== '/') sep++;
  const name = body.slice(0, sep).toLowerCase();
  const rest = body.slice(sep);
  const mechanism = parseMechanism(name, rest);
  if ('code' in mechanism) return mechanism;
  return { type: 'directive', qualifier, mechanism, text: word };
}

function parseMechanism(name: string, rest: string): SpfMechanism | Fault {
  switch (name) {
    case 'all':
      // all = "all" (§5.1): no argument, no CIDR.
      return rest === '' ? { kind: 'all' } : { code: 'invalid-mechanism', message: '"all" takes no argument (RFC 7208 §5.1)' };
    case 'include':
    case 'exists': {
      if (rest[0] !== ':') return { code: 'invalid-mechanism', message: `"${name}" needs ":" domain-spec (RFC 7208 §${name === 'include' ? '5.2' : '5.7'})` };
      const domain = parseDomainSpec(rest.slice(1));
      return 'code' in domain ? domain : { kind: name, domain };
    }
    case 'a':
    case 'mx': {
      const m = DUAL_CIDR.exec(rest);
      if (!m) return { code: 'invalid-mechanism', message: `"${name}" argument is [":" domain-spec] [dual-cidr-length] (RFC 7208 §${name === 'a' ? '5.3' : '5.4'})` };
      const cidr4 = parseCidr(m[2], CIDR4, 32, 'ip4');
      if (typeof cidr4 !== 'number') return cidr4;
      const cidr6 = parseCidr(m[3], CIDR6, 128, 'ip6');
      if (typeof cidr6 !== 'number') return cidr6;
      if (m[1] === undefined) return { kind: name, cidr4, cidr6 };
      const domain = parseDomainSpec(m[1]);
      return 'code' in domain ? domain : { kind: name, domain, cidr4, cidr6 };
    }
    case 'ptr': {
      if (rest === '') return { kind: 'ptr' };
      if (rest[0] !== ':') return { code: 'invalid-mechanism', message: '"ptr" argument is [":" domain-spec], no CIDR (RFC 7208 §5.5)' };
      const domain = parseDomainSpec(rest.slice(1));
      return 'code' in domain ? domain : { kind: 'ptr', domain };
    }
    case 'ip4':
    case 'ip6': {
      if (rest[0] !== ':') return { code: 'invalid-mechanism', message: `"${name}" needs ":" ${name}-network (RFC 7208 §5.6)` };
      const arg = rest.slice(1);
      const slash = arg.indexOf('/');
      const text = slash === -1 ? arg : arg.slice(0, slash);
      const network = name === 'ip4' ? parseIp4(text) : parseIp6(text);
      if (!network) return { code: 'invalid-ip', message: `"${text}" is not an ${name === 'ip4' ? 'IPv4 dotted quad' : 'IPv6 address'} (RFC 7208 §5.6)` };
      const max = name === 'ip4' ? 32 : 128;
      const prefix = slash === -1 ? max : parseCidr(arg.slice(slash + 1), name === 'ip4' ? CIDR4 : CIDR6, max, name);
      if (typeof prefix !== 'number') return prefix;
      return { kind: name, network, prefix };
    }
    default:
      // §5: "Unknown mechanisms cannot be ignored" — a permerror.
      return { code: 'unknown-mechanism', message: `unknown mechanism "${name}" (RFC 7208 §5)` };
  }
}

function parseCidr(digits: string | undefined, pattern: RegExp, max: number, family: string): number | Fault {
  if (digits === undefined) return max;
  if (!pattern.test(digits) || Number(digits) > max) {
    return { code: 'invalid-cidr', message: `"/${digits}" is not an ${family} prefix length 0-${max} without leading zeros (RFC 7208 §5.6)` };
  }
  return Number(digits);
}

/** domain-spec = macro-string domain-end; domain-end = ( "." toplabel [ "." ] ) / macro-expand (§7.1). */
export function parseDomainSpec(text: string): DomainSpec | Fault {
  if (text === '') return { code: 'invalid-domain-spec', message: 'empty domain-spec' };
  const parsed = parseMacroString(text, 'domain');
  if (!parsed.ok) return { code: 'invalid-macro', message: parsed.reason };
  const macro = parsed.macro;
  if (!macro.endsWithExpand) {
    const end = macro.trailingLiteral.endsWith('.') ? macro.trailingLiteral.slice(0, -1) : macro.trailingLiteral;
    const dot = end.lastIndexOf('.');
    if (dot === -1 || !TOPLABEL.test(end.slice(dot + 1))) {
      return { code: 'invalid-domain-spec', message: `"${text}" does not end in "." and a top label or a macro (RFC 7208 §7.1)` };
    }
  }
  return macro.letters.size === 0 ? { macro, literal: macro.tokens.join('') } : { macro };
}
