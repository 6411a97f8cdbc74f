/**
 * Identifier Alignment (RFC 9989 §3.2.10, §4.4, §4.10.2): strict means the Authenticated
 * Identifier equals the Author Domain; relaxed means both have the same Organizational
 * Domain, each found by its own tree walk. Pure: the walks are looked up in `facts`, and a
 * walk that is missing or met a DNS failure makes the answer `unknown` — which the evaluation
 * treats as "could have aligned" (temperror), never as unaligned.
 */
import { isSubdomainOf } from '../../mail/domain.ts';
import { organizationalDomain, type OrgDomain, type TreeWalk } from './tree-walk.ts';

export type Alignment = 'aligned' | 'unaligned' | 'unknown';

/** Tree walks by starting domain, and the walks still to be made (collected, not made, here). */
export interface WalkSource {
  walk(domain: string): TreeWalk | undefined;
}

export function orgDomainOf(domain: string, facts: WalkSource): OrgDomain {
  const walk = facts.walk(domain);
  return walk ? organizationalDomain(walk) : { known: false, reason: `no tree walk from ${domain}` };
}

const topLabel = (d: string) => d.slice(d.lastIndexOf('.') + 1);

export function alignment(author: string, identifier: string, mode: 'r' | 's', facts: WalkSource): { alignment: Alignment; reason?: string } {
  if (identifier === author) return { alignment: 'aligned' };
  if (mode === 's') return { alignment: 'unaligned' };
  // Different top-level labels: no Organizational Domain can be common to both.
  if (topLabel(identifier) !== topLabel(author)) return { alignment: 'unaligned' };
  const authorOrg = orgDomainOf(author, facts);
  if (!authorOrg.known) return { alignment: 'unknown', reason: authorOrg.reason };
  // org(identifier) = org(author) puts the identifier at or below org(author).
  if (!isSubdomainOf(identifier, authorOrg.domain)) return { alignment: 'unaligned' };
  // The Organizational Domain is its own Organizational Domain: the same records above it.
  if (identifier === authorOrg.domain) return { alignment: 'aligned' };
  const idOrg = orgDomainOf(identifier, facts);
  if (!idOrg.known) return { alignment: 'unknown', reason: idOrg.reason };
  return { alignment: idOrg.domain === authorOrg.domain ? 'aligned' : 'unaligned' };
}
