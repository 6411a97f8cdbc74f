/**
 * Collecting the ARC Sets of a message and checking the chain's structure: RFC 8617 §5.2
 * steps 1–3, which need no DNS and no hashing. What is left for the verifier are the
 * signatures (steps 4–6).
 */
import type { HeaderField } from '../../mail/header.ts';
import { parseArcAuthenticationResults, type ArcAuthenticationResults } from './authentication-results-field.ts';
import type { ArcFieldParse } from './field-parse.ts';
import { parseArcMessageSignature, type ArcMessageSignature } from './message-signature-field.ts';
import { parseArcSeal, type ArcSeal } from './seal-field.ts';
import { MAX_INSTANCE } from './signature-tags.ts';

export const AAR_HEADER = 'ARC-Authentication-Results';
export const AMS_HEADER = 'ARC-Message-Signature';
export const AS_HEADER = 'ARC-Seal';

/** One instance's three header fields, parsed. */
export interface ArcSet {
  readonly instance: number;
  readonly aar: { readonly field: HeaderField; readonly value: ArcAuthenticationResults };
  /** The AMS may be invalid for instances below N: that only lowers oldest-pass (§5.2 step 5). */
  readonly ams: { readonly field: HeaderField; readonly parsed: ArcFieldParse<ArcMessageSignature> };
  readonly as: { readonly field: HeaderField; readonly value: ArcSeal };
}

export type ArcChainStructure =
  /** §5.2 step 1: no ARC header field at all. */
  | { readonly kind: 'none' }
  | {
      readonly kind: 'fail';
      readonly reason: string;
      /** Highest instance number any ARC field states (0 when none can be read). */
      readonly highestInstance: number;
      /** The ARC-Seal of the highest instance says cv=fail: §5.1 step 1, do not seal on top. */
      readonly sealedAsFailed: boolean;
    }
  /** Steps 1–3 passed; `sets[k]` is instance k+1. */
  | { readonly kind: 'valid'; readonly sets: readonly ArcSet[] };

/** 50 sets of three fields (§5.2 step 1); more ARC fields than this fail without parsing them all. */
const MAX_FIELDS = MAX_INSTANCE * 3;

type Kind = 'aar' | 'ams' | 'as';

function kindOf(name: string): Kind | undefined {
  switch (name.toLowerCase()) {
    case 'arc-authentication-results':
      return 'aar';
    case 'arc-message-signature':
      return 'ams';
    case 'arc-seal':
      return 'as';
    default:
      return undefined;
  }
}

interface Slot {
  aar: { field: HeaderField; parsed: ArcFieldParse<ArcAuthenticationResults> }[];
  ams: { field: HeaderField; parsed: ArcFieldParse<ArcMessageSignature> }[];
  as: { field: HeaderField; parsed: ArcFieldParse<ArcSeal> }[];
}

const LABEL: Record<Kind, string> = { aar: AAR_HEADER, ams: AMS_HEADER, as: AS_HEADER };

export function collectArcChain(headers: readonly HeaderField[]): ArcChainStructure {
  const arcFields: { kind: Kind; field: HeaderField }[] = [];
  for (const field of headers) {
    const kind = kindOf(field.name);
    if (kind) arcFields.push({ kind, field });
  }
  if (arcFields.length === 0) return { kind: 'none' };

  const slots = new Map<number, Slot>();
  let highest = 0;
  let unnumbered: string | undefined;
  const tooMany = arcFields.length > MAX_FIELDS;
  for (const { kind, field } of tooMany ? [] : arcFields) {
    const parsed = kind === 'aar' ? parseArcAuthenticationResults(field.value) : kind === 'ams' ? parseArcMessageSignature(field.value) : parseArcSeal(field.value);
    if (parsed.instance === undefined) {
      unnumbered ??= parsed.ok ? `${LABEL[kind]} without instance` : parsed.reason;
      continue;
    }
    highest = Math.max(highest, parsed.instance);
    let slot = slots.get(parsed.instance);
    if (!slot) slots.set(parsed.instance, (slot = { aar: [], ams: [], as: [] }));
    (slot[kind] as { field: HeaderField; parsed: ArcFieldParse<unknown> }[]).push({ field, parsed });
  }

  const topSeal = slots.get(highest)?.as;
  const sealedAsFailed = topSeal?.length === 1 && topSeal[0]!.parsed.ok && topSeal[0]!.parsed.value.cv === 'fail';
  const fail = (reason: string): ArcChainStructure => ({ kind: 'fail', reason, highestInstance: highest, sealedAsFailed });

  if (tooMany) return fail(`${arcFields.length} ARC header fields: more than ${MAX_INSTANCE} ARC Sets (RFC 8617 §5.2 step 1)`);
  // §5.2 step 2: the newest seal already says the chain failed.
  if (sealedAsFailed) return fail(`ARC-Seal i=${highest} says cv=fail`);
  if (unnumbered) return fail(unnumbered);

  // §5.2 step 3: exactly one AAR, AMS and AS per instance; instances 1..N without gaps.
  const sets: ArcSet[] = [];
  for (let i = 1; i <= highest; i++) {
    const slot = slots.get(i);
    if (!slot) return fail(`no ARC Set i=${i} (instances must run 1..${highest} without gaps)`);
    for (const kind of ['aar', 'ams', 'as'] as const) {
      if (slot[kind].length === 0) return fail(`no ${LABEL[kind]} for i=${i}`);
      if (slot[kind].length > 1) return fail(`${slot[kind].length} ${LABEL[kind]} fields for i=${i}`);
    }
    const aar = slot.aar[0]!;
    const ams = slot.ams[0]!;
    const as = slot.as[0]!;
    if (!aar.parsed.ok) return fail(aar.parsed.reason);
    // Every seal is validated (step 6), so an unreadable one fails the chain now.
    if (!as.parsed.ok) return fail(as.parsed.reason);
    // The newest AMS must validate (step 4).
    if (i === highest && !ams.parsed.ok) return fail(ams.parsed.reason);
    // Step 3: cv=none on instance 1, cv=pass on every later one.
    const cv = as.parsed.value.cv;
    const expected = i === 1 ? 'none' : 'pass';
    if (cv !== expected) return fail(`ARC-Seal i=${i} says cv=${cv} (${expected} required)`);
    sets.push({ instance: i, aar: { field: aar.field, value: aar.parsed.value }, ams, as: { field: as.field, value: as.parsed.value } });
  }
  return { kind: 'valid', sets };
}
