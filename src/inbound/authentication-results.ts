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

/** The authserv-id an Authentication-Results value claims (lower case), or undefined. */
export function authservIdOf(value: string): string | undefined {
  const v = stripComments(value.replace(/\r?\n[ \t]/g, ' ')).trim();
  const id = v.split(';')[0]?.trim().split(/\s+/)[0]?.replace(/^"(.*)"$/, '$1');
  return id ? id.toLowerCase() : undefined;
}

/**
 * Deletions for every Authentication-Results header claiming `ourId`. Occurrences are
 * 1-based among headers of that name; deleted from the last to the first so no deletion
 * shifts the index of another, whatever the MTA's counting.
 */
export function forgedRemovals(arValues: readonly string[], ourId: string): Modification[] {
  const id = ourId.toLowerCase();
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
