/**
 * ARC sealing (RFC 8617 §5.1): the three header fields a forwarder adds on top of a message
 * — ARC-Authentication-Results with our verification results, ARC-Message-Signature over
 * the message as we pass it on, ARC-Seal over the chain — for instance i = previous + 1.
 *
 * - cv (§5.1.1, §4.4): `none` for the first set; `pass` when the chain validated; `fail`
 *   when it did not, and then the seal signs only our own set, "as if this newest ARC Set
 *   was the only set present" (§5.1.2).
 * - No seal when the newest seal already says cv=fail (§5.1 step 1: "there is no need to
 *   proceed"), when instance 50 is taken (§4.2.1), or when validation was a temperror: a
 *   cv=fail for a DNS hiccup would poison the chain for every later hop.
 * - The AMS covers the configured fields, never ARC fields or Authentication-Results
 *   (§4.1.2), always From; relaxed/relaxed, SHA-256 of the whole body (no l=).
 * - Tags in alphabetical order, one space after each ";" — the normalised form of the
 *   ValiMail signing suite, which this reproduces byte for byte under relaxed
 *   canonicalisation. Lines are folded at 78 columns between tags; b= has a line of its own
 *   and is never broken (see foldTags).
 *
 * Values are returned the way the milter inserts them (src/milter/replies.ts): without the
 * leading space (the MTA or the encoder adds one), CRLF folding (sent as LF). Header order,
 * top to bottom: ARC-Seal, ARC-Message-Signature, ARC-Authentication-Results — insert each
 * at index 0, AAR first. Every other modification of the message (an added DKIM-Signature
 * included) must be made before sealing (§5.1).
 */
import { sign, type KeyObject } from 'node:crypto';
import type { SigningKey } from '../../keys/signing-keys.ts';
import type { HeaderField } from '../../mail/header.ts';
import type { ArcCheck } from '../results.ts';
import type { BodyHashRequest } from '../dkim/body-hash.ts';
import { headerHashInput, selectSignedFields } from '../dkim/header-hash.ts';
import { parseArcAuthenticationResults } from './authentication-results-field.ts';
import { AAR_HEADER, AMS_HEADER, AS_HEADER, collectArcChain, type ArcChainStructure } from './chain.ts';
import { ArcError } from './errors.ts';
import type { SealCv } from './seal-field.ts';
import { sealHashInput, type ArcSetFields } from './seal-hash.ts';
import { MAX_INSTANCE } from './signature-tags.ts';

/** The body hash an AMS we make needs: relaxed, whole body. Register it before the body streams. */
export const ARC_SEAL_BODY_HASH: BodyHashRequest = { canon: 'relaxed' };

/** Header fields an AMS must not cover (RFC 8617 §4.1.2). */
export const UNSIGNABLE_HEADERS: readonly string[] = ['arc-authentication-results', 'arc-message-signature', 'arc-seal', 'authentication-results'];

export interface SealRequest {
  /** The message's header fields as they will be passed on (top first), before our ARC set. */
  readonly headers: readonly HeaderField[];
  /** SHA-256 of the relaxed canonical body (`ARC_SEAL_BODY_HASH` from the shared BodyHashSet). */
  readonly bodyHash: Buffer;
  /** Our authserv-id; the AAR is our Authentication-Results under it. */
  readonly authservId: string;
  /**
   * The Authentication-Results value we add to this message (`authserv-id; spf=…; dkim=…;
   * dmarc=…; arc=…`): §4.1.1, the AAR carries the combined results of our ADMD.
   */
  readonly authenticationResults: string;
  /** ArcVerifier's verdict on these same header fields. */
  readonly chain: ArcCheck;
  /** The sealing domain's active rsa-sha256 DKIM key (ARC keys are DKIM keys, §4.1.3). */
  readonly key: SigningKey;
  /** Unix seconds, for t=. */
  readonly timestamp: number;
  /** AMS h=: each name as often as the field occurs (From always). */
  readonly signedHeaders: readonly string[];
  /** Names listed once more than they occur, so a field added later breaks the AMS. */
  readonly oversignedHeaders: readonly string[];
}

export type SealSkip =
  /** The newest ARC-Seal says cv=fail (§5.1 step 1). */
  | 'sealed-as-failed'
  /** Chain validation could not be completed (DNS): no cv can be stated honestly. */
  | 'chain-temperror'
  /** 50 ARC Sets already (§4.2.1). */
  | 'instance-limit';

export type SealOutcome =
  | {
      readonly kind: 'sealed';
      readonly instance: number;
      readonly cv: SealCv;
      /** ARC-Seal, ARC-Message-Signature, ARC-Authentication-Results (top to bottom). */
      readonly fields: readonly HeaderField[];
    }
  | { readonly kind: 'skipped'; readonly reason: SealSkip; readonly detail: string };

const LINE = 78;
/**
 * Folds are CRLF + one SP, not TAB: relaxed canonicalisation reads both as one SP, but
 * python3-dkim (dkimpy, in Mailman 3 and authheaders) finds the AMS of instance N by the
 * text " i=N;" — after a TAB fold it does not find ours and its arc_verify crashes (seen
 * through real Postfix with the default, oversigned header list).
 */
const FOLD = '\r\n ';

/**
 * `tag=value; tag=value …` folded at 78 columns. Separators are one space or a fold, so the
 * relaxed form (RFC 6376 §3.4.2) is always "; " between tags. A long h= list is folded after
 * a ":" (RFC 6376 §3.5 allows FWS around each colon; verifiers strip it). b= has a line of
 * its own and is not broken: a fold inside it would be hashed by every later ARC-Seal as a
 * space (relaxed keeps one SP), and the signing suite's form has no whitespace inside values.
 * Its line stays far below RFC 5322's 998 octets (344 base64 characters for RSA-2048,
 * 684 for RSA-4096).
 */
function foldTags(headerName: string, tags: readonly (readonly [string, string])[]): string {
  let out = '';
  let col = headerName.length + 2;
  const fold = (): void => {
    out += FOLD;
    col = 1;
  };
  tags.forEach(([tag, value], k) => {
    const end = k === tags.length - 1 ? '' : ';';
    const text = `${tag}=${value}${end}`;
    const afterB = k > 0 && tags[k - 1]![0] === 'b';
    if (k > 0) {
      if (tag === 'b' || afterB || col + 1 + text.length > LINE) fold();
      else {
        out += ' ';
        col += 1;
      }
    }
    if (tag === 'h' && col + text.length > LINE) {
      // One header name per piece; a piece that does not fit goes to the next line.
      const pieces = value.split(':');
      let piece = `${tag}=${pieces[0]}`;
      for (let i = 1; i <= pieces.length; i++) {
        const last = i === pieces.length;
        const chunk = last ? `${piece}${end}` : `${piece}:`;
        if (col + chunk.length > LINE && col > 1) fold();
        out += chunk;
        col += chunk.length;
        piece = last ? '' : pieces[i]!;
      }
      return;
    }
    out += text;
    col += text.length;
  });
  return out;
}

function signAsync(data: Buffer, key: KeyObject): Promise<Buffer> {
  // The callback form runs the RSA operation on libuv's thread pool (as the DKIM signer does).
  return new Promise((resolve, reject) => sign('sha256', data, key, (err, sig) => (err ? reject(err) : resolve(sig))));
}

/** AMS h= (§4.1.2): configured order, each name as often as it occurs, From always, oversigned ones once more. */
export function amsHeaderList(headers: readonly HeaderField[], names: readonly string[], oversigned: readonly string[]): string[] {
  const count = new Map<string, number>();
  for (const f of headers) count.set(f.name.toLowerCase(), (count.get(f.name.toLowerCase()) ?? 0) + 1);
  const over = new Set(oversigned.map((n) => n.toLowerCase()));
  const seen = new Set<string>();
  const out: string[] = [];
  for (const raw of names) {
    const n = raw.trim().toLowerCase();
    if (seen.has(n)) continue;
    seen.add(n);
    if (UNSIGNABLE_HEADERS.includes(n)) throw new ArcError('signed-header', `an ARC-Message-Signature must not cover ${n} (RFC 8617 §4.1.2)`, { header: n });
    const times = (count.get(n) ?? 0) + (over.has(n) ? 1 : 0);
    for (let i = 0; i < Math.max(times, n === 'from' ? 1 : 0); i++) out.push(n);
  }
  if (!seen.has('from')) throw new ArcError('signed-header', 'the ARC-Message-Signature must cover From (RFC 6376 §5.4)', {});
  return out;
}

/** The instance of the next set, and the sets a passing chain's seal must cover. */
function chainState(structure: ArcChainStructure, chain: ArcCheck): { readonly highest: number; readonly sets: readonly ArcSetFields[] } {
  const mismatch = (why: string): never => {
    throw new ArcError('chain-mismatch', `chain result ${chain.result} (${chain.instances} instances) does not fit the header fields: ${why}`, {});
  };
  if (structure.kind === 'none') {
    if (chain.result !== 'none') mismatch('they carry no ARC fields');
    return { highest: 0, sets: [] };
  }
  if (chain.result === 'none') mismatch('they carry ARC fields');
  if (structure.kind === 'fail') {
    if (chain.result === 'pass') mismatch(structure.reason);
    return { highest: structure.highestInstance, sets: [] };
  }
  if (chain.instances !== structure.sets.length) mismatch(`${structure.sets.length} ARC Sets`);
  return { highest: structure.sets.length, sets: structure.sets.map((s) => ({ aar: s.aar.field, ams: s.ams.field, as: s.as.field })) };
}

export async function seal(r: SealRequest): Promise<SealOutcome> {
  if (r.key.algorithm !== 'rsa-sha256') throw new ArcError('key-algorithm', `ARC seals are rsa-sha256 only (RFC 8617 §4.1.3); key ${r.key.id} is ${r.key.algorithm}`, { key: r.key.id });
  const structure = collectArcChain(r.headers);
  if (structure.kind === 'fail' && structure.sealedAsFailed) return { kind: 'skipped', reason: 'sealed-as-failed', detail: structure.reason };
  if (r.chain.result === 'temperror') return { kind: 'skipped', reason: 'chain-temperror', detail: r.chain.reason };
  const state = chainState(structure, r.chain);
  const instance = state.highest + 1;
  if (instance > MAX_INSTANCE) return { kind: 'skipped', reason: 'instance-limit', detail: `${state.highest} ARC Sets already` };
  const cv: SealCv = r.chain.result === 'pass' ? 'pass' : r.chain.result === 'fail' ? 'fail' : 'none';

  // ARC-Authentication-Results: "i=N; " + our A-R payload, checked with our own parser.
  const payload = r.authenticationResults.replace(/^[ \t\r\n]+/, '').replace(/\r?\n/g, '\r\n').replace(/[ \t\r\n]+$/, '');
  const aar: HeaderField = { name: AAR_HEADER, value: `i=${instance}; ${payload}` };
  const aarParsed = parseArcAuthenticationResults(aar.value);
  if (!aarParsed.ok) throw new ArcError('authserv-id', `the Authentication-Results text cannot be an AAR: ${aarParsed.reason}`, {});
  if (aarParsed.value.authservId.toLowerCase() !== r.authservId.toLowerCase()) {
    throw new ArcError('authserv-id', `the Authentication-Results text is for ${aarParsed.value.authservId}, not our ${r.authservId}`, {});
  }

  const common = { d: r.key.domain, s: r.key.selector, t: String(r.timestamp) };
  // ARC-Message-Signature over the message as it leaves us (§4.1.2), b= empty while signing.
  const h = amsHeaderList(r.headers, r.signedHeaders, r.oversignedHeaders);
  const amsTags = (b: string): [string, string][] => [
    ['a', 'rsa-sha256'],
    ['b', b],
    ['bh', r.bodyHash.toString('base64')],
    ['c', 'relaxed/relaxed'],
    ['d', common.d],
    ['h', h.join(':')],
    ['i', String(instance)],
    ['s', common.s],
    ['t', common.t],
  ];
  const amsUnsigned: HeaderField = { name: AMS_HEADER, value: ` ${foldTags(AMS_HEADER, amsTags(''))}` };
  const amsSignature = await signAsync(headerHashInput(selectSignedFields(r.headers, h), amsUnsigned, 'relaxed'), r.key.privateKey);
  const ams: HeaderField = { name: AMS_HEADER, value: foldTags(AMS_HEADER, amsTags(amsSignature.toString('base64'))) };

  // ARC-Seal over sets 1..N and ours — or only ours when the chain failed (§5.1.2).
  const asTags = (b: string): [string, string][] => [['a', 'rsa-sha256'], ['b', b], ['cv', cv], ['d', common.d], ['i', String(instance)], ['s', common.s], ['t', common.t]];
  const previous = cv === 'pass' ? state.sets : [];
  const asUnsigned: HeaderField = { name: AS_HEADER, value: ` ${foldTags(AS_HEADER, asTags(''))}` };
  const asSignature = await signAsync(sealHashInput([...previous, { aar, ams, as: asUnsigned }]), r.key.privateKey);
  const as: HeaderField = { name: AS_HEADER, value: foldTags(AS_HEADER, asTags(asSignature.toString('base64'))) };
  return { kind: 'sealed', instance, cv, fields: [as, ams, aar] };
}
