/**
 * The audit's vocabulary: a check result is a value (`CheckResult`), produced by one pure
 * judgement per check (`src/audit/checks/*.ts`) over observations the runner gathered
 * (`src/audit/gather/*.ts`). These shapes are the JSON contract of `mailanchor audit
 * --json` (docs/audit.md): change them only by adding.
 */
import { describeError } from '../errors.ts';
import { DnsError, type DnsErrorCode } from '../dns/types.ts';

/** Every check, in report order. `domain` is the input itself (a name that cannot be audited). */
export const CHECK_NAMES = ['domain', 'ns', 'dnssec', 'mx', 'ptr', 'spf', 'dkim', 'dmarc', 'dmarc-rua', 'dane', 'mta-sts', 'tls-rpt'] as const;
export type CheckName = (typeof CHECK_NAMES)[number];

/**
 * `ok` right; `warn` works but should change; `fail` wrong (mail is or will be affected);
 * `error` the check could not tell (DNS timeout, refused, garbage, time budget): never a
 * verdict on the domain, always with the reason.
 */
export const STATUSES = ['ok', 'warn', 'fail', 'error'] as const;
export type CheckStatus = (typeof STATUSES)[number];

/** Worst first when sorting; also the Prometheus gauge value (docs/audit.md). */
export const STATUS_RANK: Readonly<Record<CheckStatus, number>> = { ok: 0, warn: 1, fail: 2, error: 3 };

export interface CheckResult {
  readonly check: CheckName;
  readonly status: CheckStatus;
  /** The name, address or server the result is about. */
  readonly subject: string;
  readonly detail: string;
  /** Where something is wrong: the record to publish or the command to run. */
  readonly fix?: string;
}

export interface DomainAudit {
  /** The name audited: lower case, A-labels. */
  readonly domain: string;
  /** What was asked for, when it differs (an IDN given as U-labels, a trailing dot). */
  readonly input?: string;
  readonly checks: readonly CheckResult[];
  /** Wall time spent on the domain and DNS queries sent for it (bench, progress). */
  readonly elapsedMs: number;
  readonly queries: number;
}

export interface AuditReport {
  readonly generated: string;
  readonly domains: readonly DomainAudit[];
}

/** The worst status of a list (ok when empty). `error` ranks above `fail` for sorting only. */
export function worst(statuses: Iterable<CheckStatus>): CheckStatus {
  let w: CheckStatus = 'ok';
  for (const s of statuses) if (STATUS_RANK[s] > STATUS_RANK[w]) w = s;
  return w;
}

/** An observation that may have failed: the value, or why it is unknown. */
export type Observed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string; readonly code: string };

export const observed = <T>(value: T): Observed<T> => ({ ok: true, value });

/** A thrown error as an `Observed` failure: the DNS code (TIMEOUT, REFUSED …) and message. */
export function failed(err: unknown): { readonly ok: false; readonly error: string; readonly code: string } {
  if (err instanceof DnsError) return { ok: false, error: err.message, code: err.code };
  const d = describeError(err);
  return { ok: false, error: d.message, code: d.code ?? 'ERROR' };
}

const DNS_CODES: ReadonlySet<string> = new Set<DnsErrorCode>(['SERVFAIL', 'REFUSED', 'FORMERR', 'NOTIMP', 'TIMEOUT', 'NETWORK', 'MALFORMED', 'NOTAUTH', 'OTHER', 'ABORTED', 'BUDGET']);

/** An `Observed` failure back as the `DnsError` it came from (for a `DnsLookup` caller). */
export function toDnsError(f: { readonly error: string; readonly code: string }, context: Record<string, unknown> = {}): DnsError {
  return new DnsError(DNS_CODES.has(f.code) ? (f.code as DnsErrorCode) : 'OTHER', f.error, context);
}

/** Runs `fn`, catching any error into an `Observed` failure: gatherers never throw. */
export async function observe<T>(fn: () => Promise<T>): Promise<Observed<T>> {
  try {
    return observed(await fn());
  } catch (err) {
    return failed(err);
  }
}

/** Result builders, so judgements read like the table in docs/audit.md. */
export const result = (check: CheckName) => ({
  ok: (subject: string, detail: string): CheckResult => ({ check, status: 'ok', subject, detail }),
  warn: (subject: string, detail: string, fix?: string): CheckResult => ({ check, status: 'warn', subject, detail, ...(fix ? { fix } : {}) }),
  fail: (subject: string, detail: string, fix?: string): CheckResult => ({ check, status: 'fail', subject, detail, ...(fix ? { fix } : {}) }),
  error: (subject: string, detail: string): CheckResult => ({ check, status: 'error', subject, detail }),
});
