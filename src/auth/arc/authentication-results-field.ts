/**
 * ARC-Authentication-Results (RFC 8617 §4.1.1), strict about what ARC needs from it:
 *
 *   arc-info = instance [CFWS] ";" authres-payload
 *   instance = [FWS] %s"i" [FWS] "=" [FWS] i-val        ; §4.2.1, i-val 1..50
 *
 * and an authres-payload (RFC 8601 §2.2) that at least names its authserv-id. The results
 * themselves are kept as text: they are the hop's statement, read by policy (trusted
 * sealers) and the Authentication-Results model, not by chain validation.
 */
import { unfold } from '../../mail/header.ts';
import type { ArcFieldParse } from './field-parse.ts';
import { instanceTag } from './signature-tags.ts';

export interface ArcAuthenticationResults {
  readonly instance: number;
  /** The authserv-id the hop wrote (RFC 8601 §2.5), as written. */
  readonly authservId: string;
  /** The authres-payload after `i=N;`, unfolded and trimmed: `authserv-id; method=result …`. */
  readonly payload: string;
}

/** RFC 5322 CFWS at the start of `s`: whitespace and (nested, escaped) comments. Returns the index after it, or -1 on an unclosed comment. */
function skipCfws(s: string, i: number): number {
  for (;;) {
    while (i < s.length && /[ \t\r\n]/.test(s[i]!)) i++;
    if (s[i] !== '(') return i;
    let depth = 0;
    for (; i < s.length; i++) {
      const c = s[i];
      if (c === '\\') i++;
      else if (c === '(') depth++;
      else if (c === ')' && --depth === 0) break;
    }
    if (depth !== 0) return -1;
    i++;
  }
}

/** RFC 2045 token characters (authserv-id is a `value`: token or quoted-string, RFC 8601 §2.2). */
const TOKEN = /^[!#$%&'*+\-.0-9A-Z^_`a-z{|}~\x80-\xff]+/;
const QUOTED = /^"(?:[^"\\\r\n]|\\.)*"/;

export function parseArcAuthenticationResults(value: string): ArcFieldParse<ArcAuthenticationResults> {
  const v = unfold(value);
  const m = /^[ \t]*i[ \t]*=[ \t]*([0-9]*)/.exec(v);
  if (!m) return { ok: false, reason: 'ARC-Authentication-Results: does not start with i=' };
  const instance = instanceTag(m[1]);
  if (!instance.ok) return { ok: false, reason: `ARC-Authentication-Results: ${instance.reason}` };
  const i = instance.value;
  const fail = (reason: string): ArcFieldParse<ArcAuthenticationResults> => ({ ok: false, instance: i, reason: `ARC-Authentication-Results i=${i}: ${reason}` });
  const afterInstance = skipCfws(v, m[0].length);
  if (afterInstance < 0) return fail('unclosed comment');
  if (v[afterInstance] !== ';') return fail('";" expected after the instance');
  const payload = v.slice(afterInstance + 1).trim();
  const idStart = skipCfws(payload, 0);
  if (idStart < 0) return fail('unclosed comment');
  const rest = payload.slice(idStart);
  const id = QUOTED.exec(rest)?.[0] ?? TOKEN.exec(rest)?.[0];
  if (!id) return fail('no authserv-id');
  const after = skipCfws(rest, id.length);
  // authres-payload: authserv-id [ CFWS authres-version ] ( no-result / 1*resinfo ); both
  // forms continue with ";" or end — "i=1; mx.example" alone has no result at all.
  if (after < 0 || (after < rest.length && !/^[0-9;]/.test(rest.slice(after)))) return fail('authserv-id not followed by ";"');
  if (after >= rest.length) return fail('no results after the authserv-id');
  return { ok: true, instance: i, value: { instance: i, authservId: id.replace(/^"(.*)"$/s, '$1'), payload } };
}
