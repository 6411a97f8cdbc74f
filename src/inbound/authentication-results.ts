/**
 * Authentication-Results (RFC 8601): reading the authserv-id of existing headers, choosing
 * the forged ones to remove, and rendering ours. Pure.
 */
import type { Modification } from '../milter/filter.ts';

export const AR_HEADER = 'Authentication-Results';

/** Drops RFC 5322 comments (nested too) so `(x) mx.example.org (y); …` yields the id. */
function stripComments(s: string): string {
  let out = '';
  let depth = 0;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (ch === '\\' && depth > 0) {
      i++;
      continue;
    }
    if (ch === '(') depth++;
    else if (ch === ')' && depth > 0) depth--;
    else if (depth === 0) out += ch;
  }
  return out;
}

/**
 * Header bytes arrive as latin1 (one char per byte); a UTF-8 header (RFC 6532) is decoded so
 * that what a UTF-8 reader would see is what we compare. Invalid UTF-8 stays as it came.
 */
function asSeen(value: string): string {
  const bytes = Buffer.from(value, 'latin1');
  const text = bytes.toString('utf8');
  return text.includes('\ufffd') && !value.includes('\ufffd') ? value : text;
}

/**
 * Characters a reader does not see, or sees as a space: Unicode White_Space (U+00A0 NO-BREAK
 * SPACE, U+2000–U+200A, U+3000 …) and format characters (U+200B ZERO WIDTH SPACE, U+FEFF,
 * bidi controls …).
 */
const INVISIBLE = /[\s\p{White_Space}\p{Cf}]/u;

/**
 * The authserv-id an Authentication-Results value claims, in the form ours is compared in:
 * lower case, NFKC, without trailing dots (`mx.example.org.` is the same host) and cut at
 * the first character a reader would not see as part of it. So `mx.example.org\u00a0;` or
 * `mx.example.org\u200b` claims mx.example.org — a forgery dressed for a UTF-8 reader is
 * still ours to remove. Undefined when there is none.
 */
export function authservIdOf(value: string): string | undefined {
  const v = stripComments(asSeen(value).replace(/\r?\n[ \t]/g, ' ')).normalize('NFKC');
  const head = v.split(';')[0] ?? '';
  const quoted = /^[\s\p{White_Space}\p{Cf}]*"([^"]*)"/u.exec(head);
  let id = quoted ? quoted[1]! : '';
  if (!quoted) {
    let i = 0;
    while (i < head.length && INVISIBLE.test(head[i]!)) i++;
    let j = i;
    while (j < head.length && !INVISIBLE.test(head[j]!)) j++;
    id = head.slice(i, j);
  }
  id = [...id].filter((ch) => !INVISIBLE.test(ch)).join('').replace(/\.+$/, '').toLowerCase();
  return id ? id : undefined;
}

/**
 * Deletions for every Authentication-Results header claiming `ourId`. Occurrences are
 * 1-based among headers of that name; deleted from the last to the first so no deletion
 * shifts the index of another, whatever the MTA's counting.
 */
export function forgedRemovals(arValues: readonly string[], ourId: string): Modification[] {
  const id = authservIdOf(ourId) ?? ourId.toLowerCase();
  return arValues
    .map((v, i) => ({ occurrence: i + 1, claims: authservIdOf(v) }))
    .filter((x) => x.claims === id)
    .reverse()
    .map((x) => ({ kind: 'change-header', name: AR_HEADER, occurrence: x.occurrence, value: '' }) as const);
}

/** `id;\n\tdkim=pass …;\n\tspf=pass …` — one result per folded line. */
export function renderAuthResults(authservId: string, results: readonly string[]): string {
  const body = results.length ? results.map((r) => r.replace(/\r?\n/g, '\n')).join(';\n\t') : 'none';
  return `${authservId};\n\t${body}`;
}
