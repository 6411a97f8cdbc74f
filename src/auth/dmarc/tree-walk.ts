/**
 * The DNS Tree Walk of RFC 9989 §4.10 as pure functions over lookup outcomes: which names to
 * query, where a walk stops, the Organizational Domain it yields (§4.10.2) and the policy
 * record that applies to an Author Domain (§4.10.1). No public suffix list: the DNS is asked.
 * The queries themselves are made by `discovery.ts`; everything here is a decision.
 *
 * A DNS failure is never an answer. A walk that met one before it could stop cannot name an
 * Organizational Domain (a record hidden by the failure could have been psd=n, psd=y, or a
 * record with fewer labels), so these functions say `unknown` and the evaluation turns that
 * into temperror wherever the answer mattered.
 */
import { labels } from '../../mail/domain.ts';
import type { DnsErrorCode } from '../../dns/types.ts';
import type { DmarcPolicy, DmarcRecord } from '../results.ts';

/** §4.10: a walk never makes more than 8 queries, whatever the number of labels. */
export const MAX_WALK_QUERIES = 8;

/** What one `_dmarc.<domain>` TXT lookup said. */
export type DmarcLookup =
  | { readonly kind: 'record'; readonly record: DmarcRecord }
  /** No DMARC record: NXDOMAIN, NODATA, only non-DMARC TXT, or several DMARC records (all discarded, §4.10 step 2). */
  | { readonly kind: 'none'; readonly detail: 'nxdomain' | 'nodata' | 'no-dmarc-txt' | 'several-records' | 'name-too-long' }
  /** The lookup did not complete: SERVFAIL, timeout, the per-message budget … */
  | { readonly kind: 'error'; readonly code: DnsErrorCode; readonly message: string };

export interface WalkStep {
  readonly domain: string;
  readonly lookup: DmarcLookup;
}

/** The lookups of one tree walk from `start`, in walk order, up to where it stopped. */
export interface TreeWalk {
  readonly start: string;
  readonly steps: readonly WalkStep[];
}

/**
 * The names a walk from `domain` queries, in order (§4.10 steps 1, 3, 4, 7): the domain
 * itself; then, for 8 or more labels, its last 7 labels; then one label fewer each time down
 * to the single top-level label.
 */
export function walkTargets(domain: string): string[] {
  const l = labels(domain);
  if (l.length === 0) return [];
  const targets = [domain];
  let n = l.length >= MAX_WALK_QUERIES ? MAX_WALK_QUERIES - 1 : l.length - 1;
  for (; n >= 1; n--) targets.push(l.slice(l.length - n).join('.'));
  return targets;
}

/** §4.10 steps 2 and 6: a single DMARC record with psd=y or psd=n ends the walk. */
export function stopsWalk(lookup: DmarcLookup): boolean {
  return lookup.kind === 'record' && lookup.record.psd !== 'u';
}

/** The steps that count: up to and including the first that stops the walk. */
export function walkedSteps(steps: readonly WalkStep[]): readonly WalkStep[] {
  const stop = steps.findIndex((s) => stopsWalk(s.lookup));
  return stop < 0 ? steps : steps.slice(0, stop + 1);
}

export type OrgDomain =
  | { readonly known: true; readonly domain: string }
  | { readonly known: false; readonly reason: string };

const failed = (s: WalkStep) => s.lookup.kind === 'error';

function describeFailure(s: WalkStep): string {
  return s.lookup.kind === 'error' ? `_dmarc.${s.domain}: ${s.lookup.code}` : `_dmarc.${s.domain}`;
}

/**
 * §4.10.2: the Organizational Domain from a walk's records, longest name first — a record
 * with psd=n is it; a record with psd=y (other than at the start) makes the name one label
 * below it the Organizational Domain; otherwise the record with the fewest labels. Without
 * any record the start is its own Organizational Domain.
 */
export function organizationalDomain(walk: TreeWalk): OrgDomain {
  // Walks are immutable values, asked about several times per message (policy, alignment).
  let org = orgCache.get(walk);
  if (!org) {
    org = selectOrganizationalDomain(walk);
    orgCache.set(walk, org);
  }
  return org;
}

const orgCache = new WeakMap<TreeWalk, OrgDomain>();

function selectOrganizationalDomain(walk: TreeWalk): OrgDomain {
  const steps = walkedSteps(walk.steps);
  const failure = steps.find(failed);
  if (failure) return { known: false, reason: `tree walk from ${walk.start} incomplete (${describeFailure(failure)})` };
  const records = steps.filter((s): s is WalkStep & { lookup: { kind: 'record' } } => s.lookup.kind === 'record');
  for (const s of records) {
    if (s.lookup.record.psd === 'n') return { known: true, domain: s.domain };
    if (s.lookup.record.psd === 'y' && s.domain !== walk.start) {
      const startLabels = labels(walk.start);
      return { known: true, domain: startLabels.slice(startLabels.length - labels(s.domain).length - 1).join('.') };
    }
  }
  const fewest = records.at(-1);
  return { known: true, domain: fewest ? fewest.domain : walk.start };
}

/** The outcome of DMARC Policy Discovery (§4.10.1) for one Author Domain. */
export type PolicyDiscovery =
  /** No DMARC record applies: the mechanism does not apply (§5.3.2) → dmarc=none. */
  | { readonly kind: 'none' }
  /** A lookup that could change the answer failed → temperror. */
  | { readonly kind: 'unknown'; readonly reason: string }
  | {
      readonly kind: 'record';
      readonly record: DmarcRecord;
      /** Where the record was found: the Author Domain, its Organizational Domain or its PSD. */
      readonly policyDomain: string;
      /** Which tag the policy comes from. */
      readonly source: 'p' | 'sp' | 'np';
    };

/**
 * §4.10.1: the record at the Author Domain, else the one at its Organizational Domain, else
 * the Public Suffix Domain's (the psd=y record that ended the walk). `p` applies when the
 * record is the Author Domain's own; for a subdomain `sp`, or `np` when the Author Domain does
 * not exist (§3.2.13, `authorExists` false) — the tag is chosen here, its value read by
 * `requestedPolicy`. `authorExists` is only consulted when the record has an `np`.
 */
export function discoverPolicy(walk: TreeWalk, authorExists: boolean | 'unknown' | undefined): PolicyDiscovery {
  const steps = walkedSteps(walk.steps);
  const first = steps[0];
  if (!first) return { kind: 'unknown', reason: `no lookup made for _dmarc.${walk.start}` };
  if (first.lookup.kind === 'error') return { kind: 'unknown', reason: `DMARC record lookup failed (${describeFailure(first)})` };
  if (first.lookup.kind === 'record') return { kind: 'record', record: first.lookup.record, policyDomain: walk.start, source: 'p' };
  const org = organizationalDomain(walk);
  if (!org.known) return { kind: 'unknown', reason: org.reason };
  const at = steps.find((s) => s.domain === org.domain && s.lookup.kind === 'record') ?? steps.find((s) => s.lookup.kind === 'record' && s.lookup.record.psd === 'y');
  if (!at || at.lookup.kind !== 'record') return { kind: 'none' };
  const record = at.lookup.record;
  if (record.np === undefined) return { kind: 'record', record, policyDomain: at.domain, source: 'sp' };
  if (authorExists === undefined || authorExists === 'unknown') {
    return authorExists === 'unknown'
      ? { kind: 'unknown', reason: `existence of ${walk.start} unknown (the record has np=)` }
      : { kind: 'unknown', reason: `existence of ${walk.start} not checked (the record has np=)` };
  }
  return { kind: 'record', record, policyDomain: at.domain, source: authorExists ? 'sp' : 'np' };
}

/**
 * True when the discovery needs to know whether the Author Domain exists (an `np` to
 * choose) and the walk did not already show it: `_dmarc.<author>` answered with data or
 * NODATA, so that name exists, and with it its parent (RFC 8020 §2: a name below an
 * NXDOMAIN cannot exist, so one that exists has existing ancestors).
 */
export function needsExistence(walk: TreeWalk): boolean {
  const first = walk.steps[0]?.lookup;
  if (first?.kind === 'none' && first.detail !== 'nxdomain' && first.detail !== 'name-too-long') return false;
  const d = discoverPolicy(walk, true);
  return d.kind === 'record' && d.policyDomain !== walk.start && d.record.np !== undefined;
}

/**
 * The policy value requested for the Author Domain (§4.7): p for the domain itself; for a
 * subdomain sp (falling back to p), or np (falling back to sp, then p) when it does not
 * exist. undefined when the needed tag is absent or invalid — see `usablePolicy`.
 */
export function requestedPolicy(record: DmarcRecord, source: 'p' | 'sp' | 'np'): DmarcPolicy | undefined {
  if (source === 'p') return record.p;
  if (source === 'sp') return record.sp ?? record.p;
  return record.np ?? record.sp ?? record.p;
}

/**
 * §4.10.1: a record without a valid p, or with an invalid sp or np, applies as p=none when
 * its rua holds at least one valid URI, and not at all otherwise (undefined).
 */
export function usablePolicy(record: DmarcRecord, source: 'p' | 'sp' | 'np'): DmarcPolicy | undefined {
  const broken = record.p === undefined || record.invalid.includes('sp') || record.invalid.includes('np');
  if (broken) return record.rua.length > 0 ? 'none' : undefined;
  return requestedPolicy(record, source);
}

/** t=y (§4.7): the policy applied to a failing message is one level below the one requested. */
export function testingPolicy(policy: DmarcPolicy, testing: boolean): DmarcPolicy {
  if (!testing) return policy;
  return policy === 'reject' ? 'quarantine' : 'none';
}
