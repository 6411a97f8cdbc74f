/**
 * One row per DMARC evaluation of an inbound message: written by the inbound filter,
 * read by the aggregate-report generator (RFC 9990 / RFC 7489 §7.2). The shape follows
 * the report's <record>: source IP, disposition, DKIM/SPF results, identifiers.
 */
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { migrate } from './database.ts';

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

const SCHEMA = [
  `CREATE TABLE dmarc_evaluations (
     id INTEGER PRIMARY KEY,
     received_at INTEGER NOT NULL,
     policy_domain TEXT,
     header_from TEXT NOT NULL,
     data TEXT NOT NULL
   );
   CREATE INDEX dmarc_evaluations_period ON dmarc_evaluations (policy_domain, received_at);`,
];

export function migrateEvaluations(db: DatabaseSync): void {
  migrate(db, 'dmarc_evaluations', SCHEMA);
}

/** One prepared INSERT per database: preparing it for every message showed in the profile. */
const inserts = new WeakMap<DatabaseSync, StatementSync>();

export function recordEvaluation(db: DatabaseSync, ev: DmarcEvaluation): void {
  let insert = inserts.get(db);
  if (!insert) {
    insert = db.prepare('INSERT INTO dmarc_evaluations (received_at, policy_domain, header_from, data) VALUES (?, ?, ?, ?)');
    inserts.set(db, insert);
  }
  insert.run(
    ev.receivedAt,
    ev.policy?.domain ?? null,
    ev.headerFrom,
    JSON.stringify(ev),
  );
}

export interface StoredEvaluation {
  readonly id: number;
  readonly evaluation: DmarcEvaluation;
}

/** Evaluations with a policy domain in [from, to) ms; rows that do not parse are returned in `bad`. */
export function listEvaluations(
  db: DatabaseSync,
  range: { from: number; to: number; policyDomain?: string },
): { rows: StoredEvaluation[]; bad: { id: number; reason: string }[] } {
  const stmt = range.policyDomain
    ? db.prepare('SELECT id, data FROM dmarc_evaluations WHERE policy_domain = ? AND received_at >= ? AND received_at < ? ORDER BY id')
    : db.prepare('SELECT id, data FROM dmarc_evaluations WHERE policy_domain IS NOT NULL AND received_at >= ? AND received_at < ? ORDER BY id');
  const raw = (range.policyDomain ? stmt.all(range.policyDomain, range.from, range.to) : stmt.all(range.from, range.to)) as { id: number; data: string }[];
  const rows: StoredEvaluation[] = [];
  const bad: { id: number; reason: string }[] = [];
  for (const r of raw) {
    try {
      rows.push({ id: r.id, evaluation: JSON.parse(r.data) as DmarcEvaluation });
    } catch (err) {
      bad.push({ id: r.id, reason: (err as Error).message });
    }
  }
  return { rows, bad };
}

export function pruneEvaluations(db: DatabaseSync, olderThan: number): number {
  return Number(db.prepare('DELETE FROM dmarc_evaluations WHERE received_at < ?').run(olderThan).changes);
}
