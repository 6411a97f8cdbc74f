/**
 * DMARC evaluation (RFC 9989 §5.3) as a pure function over what the other checks found —
 * the SPF check, the DKIM checks, the authors of the From field — and the DNS facts that
 * discovery gathered (tree walks, domain existence). No I/O, no clock: the same inputs give
 * the same `DmarcCheck`, which the policy step, the Authentication-Results renderer and the
 * aggregate-report log all read.
 *
 * The rules, each with its source:
 * - Policy discovery and the Organizational Domain by DNS tree walk (§4.10, `tree-walk.ts`).
 * - An Authenticated Identifier counts when it passed: SPF for the MAIL FROM identity (for the
 *   null sender that is postmaster@HELO, §3.2.4 / RFC 7208 §2.4), DKIM per signature (§4.4.1)
 *   — `policy` (rsa-sha1, short key …), `neutral`, `fail` and `permerror` never count, nor (by
 *   default) a signature whose `l=` leaves body bytes unsigned: anyone could have appended
 *   them (RFC 6376 §8.2). Alignment strict or relaxed per adkim/aspf (§4.4, `alignment.ts`).
 * - pass when one counted identifier aligns (§5.3.5). fail only when every check that could
 *   have produced an aligned pass reached a final result: an aligned (or possibly aligned)
 *   SPF or DKIM temperror — a key lookup timeout, the per-message DNS budget — or a failed
 *   lookup in the walks the decision needed makes it temperror (§5.3.6: "cannot be
 *   considered to pass or fail"). A transient DNS failure never becomes a permanent verdict.
 * - The policy: p / sp / np by where the record was found and whether the Author Domain exists
 *   (§4.7, §4.10.1, §3.2.13); an invalid p, sp or np → p=none when rua has a valid URI, else no
 *   DMARC processing (permerror, nothing applied, §4.10.1); `t=y` applies one level softer (§4.7).
 * - No usable author domain (no From, unparseable, no domain, IP literal …) → permerror with the
 *   configured policy (`inbound.no_author_policy`). Several author domains or From fields
 *   (§5.3.1, §11.5) → `inbound.multiple_from`: reject, or evaluate each author domain (at most
 *   `MAX_AUTHOR_DOMAINS`) and report the strictest outcome.
 */
import type { Authors } from '../../mail/author.ts';
import { normalizeDomain } from '../../mail/domain.ts';
import type { DkimSignatureCheck, DmarcCheck, DmarcPolicy, SpfCheck } from '../results.ts';
import { alignment, type Alignment, type WalkSource } from './alignment.ts';
import { discoverPolicy, needsExistence, organizationalDomain, requestedPolicy, testingPolicy, usablePolicy, type TreeWalk } from './tree-walk.ts';

/** The DNS facts gathered for one message (by `DmarcDiscovery`, or by a test). */
export interface DmarcFacts {
  /** Tree walks by starting domain. */
  readonly walks: ReadonlyMap<string, TreeWalk>;
  /** Author Domain existence (§3.2.13: NXDOMAIN means it does not exist); 'unknown' on a DNS failure. */
  readonly existence: ReadonlyMap<string, boolean | 'unknown'>;
}

export interface DmarcInput {
  readonly authors: Authors;
  readonly spf?: SpfCheck | undefined;
  readonly dkim: readonly DkimSignatureCheck[];
  /** DKIM signatures over the cap, not verified (they are final non-passes, named in the reason). */
  readonly dkimSkipped?: number;
}

export interface DmarcOptions {
  /** `inbound.no_author_policy`: applied with permerror when there is no usable author domain. */
  readonly noAuthorPolicy: DmarcPolicy;
  /** `inbound.multiple_from`. */
  readonly multipleFrom: 'reject' | 'strictest';
  /** Let a DKIM signature whose `l=` leaves body bytes unsigned count (default false). */
  readonly countPartialBody?: boolean;
}

/** RFC 9989 §11.5: evaluating many author domains is itself a DoS; beyond this many, none is. */
export const MAX_AUTHOR_DOMAINS = 5;

/** What discovery still has to look up before the evaluation can be final. */
export interface DmarcNeeds {
  readonly walks: readonly string[];
  readonly existence: readonly string[];
}

class Facts implements WalkSource {
  readonly #facts: DmarcFacts;
  readonly missingWalks = new Set<string>();
  readonly missingExistence = new Set<string>();
  constructor(facts: DmarcFacts) {
    this.#facts = facts;
  }
  walk(domain: string): TreeWalk | undefined {
    const w = this.#facts.walks.get(domain);
    if (!w) this.missingWalks.add(domain);
    return w;
  }
  existence(domain: string): boolean | 'unknown' | undefined {
    const e = this.#facts.existence.get(domain);
    if (e === undefined) this.missingExistence.add(domain);
    return e;
  }
}

const noAlignment = { spf: false, dkim: [] as string[] };

interface Candidate {
  readonly kind: 'spf' | 'dkim';
  readonly domain: string;
  readonly result: 'pass' | 'temperror';
  readonly alignment: Alignment;
  readonly why?: string;
}

function evaluateAuthor(author: string, input: DmarcInput, facts: Facts, options: DmarcOptions): DmarcCheck {
  const walk = facts.walk(author);
  if (!walk) return { result: 'temperror', fromDomain: author, aligned: noAlignment, reason: `DMARC policy of ${author} not discovered` };
  const existence = needsExistence(walk) ? facts.existence(author) : true;
  const discovery = discoverPolicy(walk, existence);
  if (discovery.kind === 'unknown') return { result: 'temperror', fromDomain: author, aligned: noAlignment, reason: discovery.reason };
  if (discovery.kind === 'none') return { result: 'none', fromDomain: author, aligned: noAlignment, reason: `no DMARC record for ${author}` };

  const { record, policyDomain, source } = discovery;
  const org = organizationalDomain(walk);
  const base = {
    fromDomain: author,
    policyDomain,
    ...(org.known ? { organizationalDomain: org.domain } : {}),
    record,
    policySource: source,
  } as const;
  const requested = requestedPolicy(record, source);
  const usable = usablePolicy(record, source);
  if (usable === undefined) {
    return {
      ...base,
      result: 'permerror',
      aligned: noAlignment,
      reason: `DMARC record of ${policyDomain} unusable: ${record.p === undefined ? 'no valid p=' : `invalid ${record.invalid.filter((t) => t === 'sp' || t === 'np').join(', ')}=`} and no valid rua= (RFC 9989 §4.10.1)`,
    };
  }
  const policy = testingPolicy(usable, record.testing);
  const policyFields = { ...(requested ? { requestedPolicy: requested } : {}), policy };

  const candidates: Candidate[] = [];
  const spf = input.spf;
  // The checks promise normalized domains; normalizing again costs little and keeps a stray
  // upper-case or trailing-dot d= from turning an aligned pass into a fail.
  const spfDomain = spf?.domain ? normalizeDomain(spf.domain) : undefined;
  if (spf && (spf.result === 'pass' || spf.result === 'temperror') && spfDomain) {
    const a = alignment(author, spfDomain, record.aspf, facts);
    candidates.push({ kind: 'spf', domain: spfDomain, result: spf.result, alignment: a.alignment, ...(a.reason ? { why: a.reason } : {}) });
  }
  let partial = 0;
  for (const sig of input.dkim) {
    const domain = sig.domain ? normalizeDomain(sig.domain) : undefined;
    if (!domain) continue;
    let result: 'pass' | 'temperror' | undefined;
    if (sig.result === 'pass') {
      if (sig.partialBody && !options.countPartialBody) partial++;
      else result = 'pass';
    } else if (sig.result === 'temperror') result = 'temperror';
    if (!result) continue;
    const a = alignment(author, domain, record.adkim, facts);
    candidates.push({ kind: 'dkim', domain, result, alignment: a.alignment, ...(a.reason ? { why: a.reason } : {}) });
  }

  const alignedPass = candidates.filter((c) => c.result === 'pass' && c.alignment === 'aligned');
  const aligned = { spf: alignedPass.some((c) => c.kind === 'spf'), dkim: [...new Set(alignedPass.filter((c) => c.kind === 'dkim').map((c) => c.domain))] };
  if (alignedPass.length) {
    const by = alignedPass.map((c) => `${c.kind.toUpperCase()} ${c.domain}`).join(', ');
    return { ...base, ...policyFields, result: 'pass', aligned, reason: `aligned pass: ${by}` };
  }
  const pending = candidates.filter((c) => (c.result === 'temperror' && c.alignment !== 'unaligned') || (c.result === 'pass' && c.alignment === 'unknown'));
  if (pending.length) {
    const what = pending.map((c) => (c.result === 'temperror' ? `${c.kind.toUpperCase()} ${c.domain} temperror` : `alignment of ${c.kind.toUpperCase()} ${c.domain} unknown${c.why ? ` (${c.why})` : ''}`));
    return { ...base, ...policyFields, result: 'temperror', aligned, reason: `no aligned pass yet: ${what.join('; ')}` };
  }
  const notes: string[] = [];
  if (partial) notes.push(`${partial} DKIM pass${partial > 1 ? 'es' : ''} with l= not counted`);
  if (input.dkimSkipped) notes.push(`${input.dkimSkipped} DKIM signature${input.dkimSkipped > 1 ? 's' : ''} over the cap not verified`);
  return {
    ...base,
    ...policyFields,
    result: 'fail',
    aligned,
    reason: `not authenticated by an aligned SPF or DKIM pass${notes.length ? ` (${notes.join('; ')})` : ''}`,
  };
}

/** How strongly a check constrains the message — the strictest of several authors is applied. */
function severity(c: DmarcCheck): number {
  switch (c.result) {
    case 'fail':
      return c.policy === 'reject' ? 6 : c.policy === 'quarantine' ? 4 : 3;
    // A temperror may turn out a reject: waiting for it outranks a known quarantine.
    case 'temperror':
      return 5;
    case 'permerror':
      return 2;
    case 'pass':
      return 1;
    case 'none':
      return 0;
  }
}

function evaluateWith(input: DmarcInput, facts: Facts, options: DmarcOptions): DmarcCheck {
  const a = input.authors;
  if (!a.ok) {
    return { result: 'permerror', policy: options.noAuthorPolicy, authorProblem: a.problem, aligned: noAlignment, reason: `no usable author domain: ${a.reason}` };
  }
  const several = a.domains.length > 1 || a.fields > 1;
  if (several && options.multipleFrom === 'reject') {
    const what = a.fields > 1 ? `${a.fields} From fields` : `${a.domains.length} author domains (${a.domains.join(', ')})`;
    return { result: 'permerror', policy: 'reject', authorProblem: 'several-authors', aligned: noAlignment, reason: `${what}: DMARC cannot be evaluated (RFC 9989 §5.3.1)` };
  }
  if (a.domains.length > MAX_AUTHOR_DOMAINS) {
    return {
      result: 'permerror',
      policy: options.noAuthorPolicy,
      authorProblem: 'too-many-authors',
      aligned: noAlignment,
      reason: `${a.domains.length} author domains, more than the ${MAX_AUTHOR_DOMAINS} evaluated (RFC 9989 §11.5)`,
    };
  }
  const checks = a.domains.map((d) => evaluateAuthor(d, input, facts, options));
  if (checks.length === 1 && !several) return checks[0]!;
  // Stable: among equals the first author (in From order) is reported.
  const strictest = checks.reduce((best, c) => (severity(c) > severity(best) ? c : best));
  return { ...strictest, authors: checks, reason: `strictest of ${checks.length} author domain${checks.length > 1 ? 's' : ''} (${a.fields} From field${a.fields > 1 ? 's' : ''}): ${strictest.reason}` };
}

/** The DMARC verdict for a message. Facts that are missing count as DNS failures. */
export function evaluateDmarc(input: DmarcInput, facts: DmarcFacts, options: DmarcOptions): DmarcCheck {
  return evaluateWith(input, new Facts(facts), options);
}

/**
 * The evaluation with the facts at hand, and the lookups it missed (empty when `facts` are
 * complete — then `check` is final). Discovery calls this until nothing is missing.
 */
export function planDmarc(input: DmarcInput, facts: DmarcFacts, options: DmarcOptions): { readonly check: DmarcCheck; readonly needs: DmarcNeeds } {
  const f = new Facts(facts);
  const check = evaluateWith(input, f, options);
  return { check, needs: { walks: [...f.missingWalks], existence: [...f.missingExistence] } };
}

/** The lookups the evaluation of `input` would still use; empty when `facts` are complete. */
export function dmarcNeeds(input: DmarcInput, facts: DmarcFacts, options: DmarcOptions): DmarcNeeds {
  return planDmarc(input, facts, options).needs;
}
