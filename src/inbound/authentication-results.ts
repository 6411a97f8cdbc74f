/**
 * Authentication-Results (RFC 8601): reading the authserv-id of existing headers, choosing
 * the forged ones to remove, and rendering ours. Pure.
 */
import { claimsAuthservId } from '../mail/auth-results.ts';
import type { Modification } from '../milter/filter.ts';

export const AR_HEADER = 'Authentication-Results';

/**
 * Deletions for every Authentication-Results header claiming `ourId` as a mail reader would
 * see it (src/mail/auth-results.ts `claimsAuthservId`: comments, case, a trailing dot, odd
 * white space after the id). Occurrences are 1-based among headers of that name; deleted
 * from the last to the first so no deletion shifts the index of another, whatever the MTA's
 * counting.
 */
export function forgedRemovals(arValues: readonly string[], ourId: string): Modification[] {
  return arValues
    .map((v, i) => ({ occurrence: i + 1, ours: claimsAuthservId(v, ourId) }))
    .filter((x) => x.ours)
    .reverse()
    .map((x) => ({ kind: 'change-header', name: AR_HEADER, occurrence: x.occurrence, value: '' }) as const);
}

/** `id;\n\tdkim=pass …;\n\tspf=pass …` — one result per folded line. */
export function renderAuthResults(authservId: string, results: readonly string[]): string {
  const body = results.length ? results.map((r) => r.replace(/\r?\n/g, '\n')).join(';\n\t') : 'none';
  return `${authservId};\n\t${body}`;
}
