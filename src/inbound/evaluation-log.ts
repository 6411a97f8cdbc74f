/**
 * One DMARC evaluation of an inbound message, and the port the inbound filter records it
 * through. The shape follows the aggregate report's <record> (RFC 9990 / RFC 7489 §7.2):
 * source IP, disposition, DKIM/SPF results, identifiers. The reports feature reads them back
 * (`reports/evaluation-reader.ts`).
 */
export type DmarcResult = 'pass' | 'fail' | 'none' | 'temperror' | 'permerror';
export type Disposition = 'none' | 'quarantine' | 'reject';
/** RFC 7489 PolicyOverrideType / RFC 9990 reason types. */
export type OverrideReason = 'forwarded' | 'sampled_out' | 'trusted_forwarder' | 'mailing_list' | 'local_policy' | 'other';

export interface DkimEvaluation {
  readonly domain: string;
  readonly selector: string;
  /** pass, fail, neutral, none, policy, temperror, permerror (RFC 8601 dkim results). */
  readonly result: string;
  readonly humanResult?: string;
}

/** The DMARC record that applied, as the report's <policy_published> needs it. */
export interface PublishedPolicy {
  /** Domain where the record was found (the policy domain). */
  readonly domain: string;
  readonly p: Disposition;
  readonly sp?: Disposition;
  readonly np?: Disposition;
  readonly adkim: 'r' | 's';
  readonly aspf: 'r' | 's';
  /** RFC 9989 testing flag `t=y`. */
  readonly testing: boolean;
  readonly psd?: 'y' | 'n' | 'u';
  readonly fo?: string;
  readonly rua: readonly string[];
  /** Requested aggregate interval in seconds (`ri`, RFC 7489; default 86400). */
  readonly ri: number;
}

export interface DmarcEvaluation {
  readonly receivedAt: number; // unix ms
  readonly queueId?: string;
  readonly sourceIp: string;
  readonly headerFrom: string; // RFC5322.From domain
  readonly envelopeFrom: string; // RFC5321.MailFrom domain ('' for the null sender)
  readonly envelopeTo?: string; // first recipient's domain
  readonly spf: { readonly domain: string; readonly scope: 'mfrom' | 'helo'; readonly result: string };
  readonly dkim: readonly DkimEvaluation[];
  readonly dmarcResult: DmarcResult;
  readonly spfAligned: boolean;
  readonly dkimAligned: boolean;
  /** Absent when no DMARC record was found (dmarc=none): nothing to report to. */
  readonly policy?: PublishedPolicy;
  readonly disposition: Disposition;
  readonly overrideReason?: OverrideReason;
  readonly overrideComment?: string;
  readonly arcResult?: string;
}

/**
 * Where the inbound filter puts an evaluation. `record` never blocks and never throws: the
 * message's verdict does not wait for the store. The implementation (one batching writer per
 * process, `store/evaluation-writer.ts`) queues it, writes it later in a batch, and counts
 * every evaluation it had to drop — none is lost silently.
 */
export interface EvaluationLog {
  record(evaluation: DmarcEvaluation): void;
}
