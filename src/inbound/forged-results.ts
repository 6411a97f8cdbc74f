/**
 * Forged Authentication-Results (RFC 8601 §5): a header claiming our authserv-id that did not
 * come from us is removed before ours is added, so a mail reader never trusts a result the
 * sender wrote. Which headers claim our id is the A-R model's call (`claimsAuthservId`: comments,
 * case, a trailing dot, odd white space after the id all count as ours). Pure.
 */
import { AUTHENTICATION_RESULTS, claimsAuthservId } from '../mail/auth-results.ts';
import type { Modification } from '../milter/filter.ts';

/**
 * Deletions for every Authentication-Results header claiming `ourId`. Occurrences are 1-based
 * among headers of that name (SMFIR_CHGHEADER); deleted from the last to the first so no
 * deletion shifts the index of another, whatever the MTA's counting.
 */
export function forgedRemovals(arValues: readonly string[], ourId: string): Modification[] {
  return arValues
    .map((v, i) => ({ occurrence: i + 1, ours: claimsAuthservId(v, ourId) }))
    .filter((x) => x.ours)
    .reverse()
    .map((x) => ({ kind: 'change-header', name: AUTHENTICATION_RESULTS, occurrence: x.occurrence, value: '' }) as const);
}
