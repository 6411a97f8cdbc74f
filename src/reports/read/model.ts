/**
 * What a received report says, as the reader hands it on: a DMARC aggregate report
 * (RFC 7489 Appendix C, RFC 9990) as a header plus rows streamed in batches, and an SMTP
 * TLS report (RFC 8460 §4.4). Values are normalised once here (lower case, closed unions)
 * so nobody downstream compares raw report strings. Anything the reader had to be lenient
 * about is a `warning` on the report, never silently dropped.
 */

/** RFC 9990 §3.2.2 adds `pass` ("no action, passing DMARC with an enforcing policy"). */
export type Disposition = 'none' | 'pass' | 'quarantine' | 'reject' | 'unknown';
/** `<policy_evaluated><dkim|spf>`: the DMARC-aligned result. */
export type AlignedResult = 'pass' | 'fail' | 'unknown';

export interface PublishedPolicy {
  /** `<policy_published><domain>`, lower case: where the DMARC record was found. */
  readonly domain: string;
  readonly p: Disposition;
  readonly sp?: Disposition;
  readonly np?: Disposition;
  /** RFC 7489 `pct` (removed by RFC 9989; absent = 100). */
  readonly pct?: number;
  readonly adkim?: 'r' | 's';
  readonly aspf?: 'r' | 's';
  readonly fo?: string;
  /** RFC 9990 `testing` (t=y). */
  readonly testing?: boolean;
  readonly discoveryMethod?: string;
}

export interface AggregateHeader {
  /** `rfc9990` when the root is in the `urn:ietf:params:xml:ns:dmarc-2.0` namespace. */
  readonly schema: 'rfc9990' | 'rfc7489';
  /** As written (trimmed, whitespace collapsed); use `reporterKey` to compare. */
  readonly orgName: string;
  readonly email: string;
  readonly extraContactInfo?: string;
  readonly reportId: string;
  /** Unix seconds; `end` is the last second covered. */
  readonly begin: number;
  readonly end: number;
  readonly generator?: string;
  /** `<report_metadata><error>` lines the reporter wrote. */
  readonly errors: readonly string[];
  readonly policy: PublishedPolicy;
}

export interface DkimAuth {
  readonly domain: string;
  readonly selector?: string;
  /** RFC 8601 dkim result, lower case: pass, fail, neutral, none, policy, temperror, permerror. */
  readonly result: string;
}

export interface SpfAuth {
  readonly domain: string;
  readonly scope?: 'mfrom' | 'helo';
  /** RFC 7208 result, lower case. */
  readonly result: string;
}

export interface OverrideReason {
  /** forwarded, sampled_out, trusted_forwarder, mailing_list, local_policy, policy_test_mode, other. */
  readonly type: string;
  readonly comment?: string;
}

export interface AggregateRow {
  /** Canonical text form (IPv6 compressed, lower case). */
  readonly sourceIp: string;
  readonly count: number;
  readonly disposition: Disposition;
  readonly dkim: AlignedResult;
  readonly spf: AlignedResult;
  readonly reasons: readonly OverrideReason[];
  readonly headerFrom: string;
  readonly envelopeFrom?: string;
  readonly envelopeTo?: string;
  readonly dkimAuth: readonly DkimAuth[];
  readonly spfAuth: readonly SpfAuth[];
}

/** RFC 8460 §4.4 `policy-type`. */
export type TlsPolicyType = 'sts' | 'tlsa' | 'no-policy-found' | 'unknown';

export interface TlsFailure {
  /** RFC 8460 §4.3 result types (starttls-not-supported, certificate-expired, tlsa-invalid, …). */
  readonly resultType: string;
  readonly sendingMtaIp?: string;
  readonly receivingMxHostname?: string;
  readonly receivingMxHelo?: string;
  readonly receivingIp?: string;
  readonly failedSessions: number;
  readonly additionalInformation?: string;
  readonly failureReasonCode?: string;
}

export interface TlsPolicyResult {
  readonly policyType: TlsPolicyType;
  readonly policyDomain: string;
  readonly policyStrings: readonly string[];
  readonly mxHosts: readonly string[];
  readonly successfulSessions: number;
  readonly failedSessions: number;
  readonly failures: readonly TlsFailure[];
}

export interface TlsReport {
  readonly orgName: string;
  readonly contactInfo?: string;
  readonly reportId: string;
  /** Unix seconds. */
  readonly begin: number;
  readonly end: number;
  readonly policies: readonly TlsPolicyResult[];
}

/**
 * The reporter as compared for de-duplication and grouping: "FastMail Pty Ltd" and
 * "Fastmail Pty Ltd " are one reporter. Case, runs of white space and a trailing dot do
 * not distinguish organisations in practice; the org name is free text (RFC 7489 §7.2.2).
 */
export function reporterKey(orgName: string): string {
  return orgName.normalize('NFKC').toLowerCase().replace(/\s+/g, ' ').replace(/[\s.]+$/, '').trim();
}
