/**
 * The engine's verdicts as typed values — what the pure policy step, the
 * Authentication-Results renderer, ARC sealing and the aggregate-report log consume. No
 * strings patched afterwards: each check states its result, the identifiers it was about
 * and a short human reason. Result words are those of the RFC 8601 §2.7 / RFC 8617 /
 * RFC 9989 registries.
 */
import type { AuthorProblem } from '../mail/author.ts';

/** RFC 7208 §2.6 / RFC 8601 §2.7.2. */
export type SpfResult = 'none' | 'neutral' | 'pass' | 'fail' | 'softfail' | 'temperror' | 'permerror';

export interface SpfCheck {
  readonly result: SpfResult;
  /** Which identity was checked: MAIL FROM, or HELO for the null sender (RFC 7208 §2.4). */
  readonly scope: 'mfrom' | 'helo';
  /** The domain whose record was evaluated (MAIL FROM domain or HELO name), A-label. */
  readonly domain: string;
  /** The smtp.mailfrom / smtp.helo property value (for the null sender: postmaster@HELO, §2.4). */
  readonly identity: string;
  /** Why, in a few words: the mechanism that matched, the syntax error, the DNS failure. */
  readonly reason: string;
  /** The `exp=` explanation on `fail` (RFC 7208 §6.2), when one was found. */
  readonly explanation?: string;
  /** DNS-querying terms evaluated (§4.6.4 limit 10) and void lookups (limit 2). */
  readonly lookups: number;
  readonly voidLookups: number;
}

/** RFC 8601 §2.7.1. `policy`: verified but not acceptable (weak algorithm, short key, `l=`). */
export type DkimResult = 'none' | 'pass' | 'fail' | 'policy' | 'neutral' | 'temperror' | 'permerror';

/**
 * Why a DKIM signature did not pass, as a closed list (RFC 6376 §6.1 names each case), so
 * policy, the Authentication-Results renderer and the logs need not read `reason` text.
 *
 * permerror: `syntax` (tag list or a tag value, §3.2/§3.5), `version` (v= missing or not 1),
 * `algorithm` (a= unknown), `canonicalization` (c= unknown), `from-not-signed` (§5.4),
 * `domain-mismatch` (i= outside d=, §3.5; key t=s, §3.6.1), `query-method` (q= without
 * dns/txt), `timestamps` (x= not after t=), `no-key`, `key-revoked`, `key-syntax`,
 * `key-algorithm` (k= does not fit a=), `key-hash` (key h= excludes the hash) — §6.1.1/§6.1.2.
 * policy: `weak-algorithm` (rsa-sha1, RFC 8301 §3.1), `weak-key` (below min_key_bits,
 * RFC 8301 §3.2), `expired` (x= in the past, §3.5).
 * fail: `body-length` (l= longer than the body, §3.5), `body-hash`, `signature` (§6.1.3).
 * temperror: `key-unavailable` (DNS failed, §6.1.2 step 2), `internal` (the message ended
 * before the body was hashed; never a verdict about the sender).
 */
export type DkimReasonCode =
  | 'syntax'
  | 'version'
  | 'algorithm'
  | 'canonicalization'
  | 'from-not-signed'
  | 'domain-mismatch'
  | 'query-method'
  | 'timestamps'
  | 'no-key'
  | 'key-revoked'
  | 'key-syntax'
  | 'key-algorithm'
  | 'key-hash'
  | 'weak-algorithm'
  | 'weak-key'
  | 'expired'
  | 'body-length'
  | 'body-hash'
  | 'signature'
  | 'key-unavailable'
  | 'internal';

/** One DKIM-Signature header field, verified (RFC 6376 §6). */
export interface DkimSignatureCheck {
  readonly result: Exclude<DkimResult, 'none'>;
  /** Why it did not pass; absent on pass. */
  readonly code?: DkimReasonCode;
  /** `d=`, normalized; absent when the signature could not be parsed that far. */
  readonly domain?: string;
  readonly selector?: string;
  /** `a=` as the signature states it. */
  readonly algorithm?: string;
  /** `i=`, or `@d` when absent (§3.5). */
  readonly identity?: string;
  /** The `b=` value with whitespace removed, for `header.b` (RFC 6008). */
  readonly signature?: string;
  readonly keyBits?: number;
  /** `l=` when present. */
  readonly bodyLength?: number;
  /** `l=` left canonical body bytes unsigned: content may have been appended. */
  readonly partialBody: boolean;
  /** The key record has `t=y`: the domain is testing DKIM (RFC 6376 §3.6.1). */
  readonly testing: boolean;
  readonly reason: string;
}

/** RFC 8617 §4.4 chain validation status, plus temperror when a key lookup failed (docs/inbound.md). */
export type ArcResult = 'none' | 'pass' | 'fail' | 'temperror';

export interface ArcCheck {
  readonly result: ArcResult;
  /** Instances (i=) in the chain — on fail the highest instance any ARC field states; 0 when unsealed. */
  readonly instances: number;
  /**
   * RFC 8617 §5.2 "oldest-pass", when pass: the lowest instance k such that the AMS of k and
   * of every newer instance validate (N when only the newest does).
   */
  readonly oldestPass?: number;
  /** `d=` of each ARC-Seal, instance 1 first: who vouched, for trusted-sealer overrides. Filled on pass only. */
  readonly sealers: readonly string[];
  /**
   * What each hop recorded (its ARC-Authentication-Results after `i=N;`: the authres-payload
   * `authserv-id; method=result …`, unfolded), instance 1 first. Filled on pass only.
   */
  readonly hopResults: readonly string[];
  readonly reason: string;
}

/** RFC 9989 §9.2 results (registered in RFC 8601's result-name registry). */
export type DmarcResult = 'none' | 'pass' | 'fail' | 'temperror' | 'permerror';
export type DmarcPolicy = 'none' | 'quarantine' | 'reject';

/** A parsed DMARC policy record (RFC 9989 §4.7); unknown tags are ignored. */
export interface DmarcRecord {
  readonly p?: DmarcPolicy;
  readonly sp?: DmarcPolicy;
  readonly np?: DmarcPolicy;
  readonly adkim: 'r' | 's';
  readonly aspf: 'r' | 's';
  readonly psd: 'y' | 'n' | 'u';
  /** `t=y`: testing — a failing message is treated as if the policy were one step softer (§4.7). */
  readonly testing: boolean;
  /** Syntactically valid report URIs (RFC 9989 §4.8 dmarc-uri; obsolete `!size` suffixes dropped). */
  readonly rua: readonly string[];
  readonly ruf: readonly string[];
  readonly fo?: string;
  /**
   * Known tags whose value was not valid and was ignored (§4.8: "discarded in favor of
   * default values"), e.g. `['p']` for `p=rejected`. An invalid p, sp or np decides how the
   * record applies (§4.10.1).
   */
  readonly invalid: readonly string[];
}

/**
 * Why a message has no single author domain to evaluate: the author parser's problems
 * (src/mail/author.ts), several author domains or From fields with `multiple_from: reject`,
 * or more author domains than are evaluated.
 */
export type DmarcAuthorProblem = AuthorProblem | 'several-authors' | 'too-many-authors';

export interface DmarcCheck {
  readonly result: DmarcResult;
  /** The author (RFC5322.From) domain evaluated, normalized. */
  readonly fromDomain?: string;
  /** Where the applicable record was found. */
  readonly policyDomain?: string;
  /** The organizational domain the tree walk determined. */
  readonly organizationalDomain?: string;
  readonly record?: DmarcRecord;
  /** Which tag the policy came from: p (the author domain's own record), sp, or np (author domain does not exist). */
  readonly policySource?: 'p' | 'sp' | 'np';
  /** The record's requested policy for this author domain: p, sp or np (RFC 9989 §4.7). */
  readonly requestedPolicy?: DmarcPolicy;
  /**
   * The policy for this message if it is not authenticated, after §4.10.1 (invalid p → none
   * with a valid rua) and `t=y`: applied on `fail`; with an `authorProblem` (result
   * permerror) the configured policy for that case; on `temperror` what a failure would get
   * (so `none` means there is nothing to wait for). Absent for `none` and a record permerror.
   */
  readonly policy?: DmarcPolicy;
  /** Set (with result permerror) when there was no single usable author domain. */
  readonly authorProblem?: DmarcAuthorProblem;
  /**
   * `multiple_from: strictest`: one check per author domain, From order; the fields above
   * are those of the strictest (fail/reject, temperror, fail/quarantine, fail/none, …).
   */
  readonly authors?: readonly DmarcCheck[];
  readonly aligned: {
    readonly spf: boolean;
    /** d= of the aligned, passing DKIM signatures. */
    readonly dkim: readonly string[];
  };
  readonly reason: string;
}

/** RFC 8601 §2.7.3. */
export type IprevResult = 'pass' | 'fail' | 'temperror' | 'permerror';

export interface IprevCheck {
  readonly result: IprevResult;
  readonly ip: string;
  /** The confirmed name on pass; the PTR names seen otherwise. */
  readonly names: readonly string[];
  readonly reason: string;
}

/** Everything the engine found out about one message. */
export interface MessageAuthentication {
  readonly spf?: SpfCheck;
  /** One entry per DKIM-Signature field verified; empty when the message is unsigned. */
  readonly dkim: readonly DkimSignatureCheck[];
  /** Signatures beyond the configured cap, not verified. */
  readonly dkimSkipped: number;
  readonly arc?: ArcCheck;
  readonly dmarc: DmarcCheck;
  readonly iprev?: IprevCheck;
}
