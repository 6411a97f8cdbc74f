/**
 * The exit status for an error a command did not handle itself: one table per error class
 * and code (typed against each layer's closed code union, so a new code must be given a
 * status here), then the operating system's errno in the `cause` chain, then EX_SOFTWARE.
 *
 * Classes are matched by name and their code unions imported as types only, so the
 * mapping loads none of the layers it knows (`mailanchor tlsa` does not load the milter).
 */
import type { DaneErrorCode } from '../dane/errors.ts';
import type { DnsErrorCode } from '../dns/types.ts';
import { MailanchorError } from '../errors.ts';
import type { KeystoreErrorCode } from '../keys/errors.ts';
import type { ListenErrorCode } from '../milter/server.ts';
import type { PublishErrorCode } from '../publish/publisher.ts';
import type { ReportErrorCode } from '../reports/errors.ts';
import type { StoreErrorCode } from '../store/errors.ts';
import { EX, type SysExit } from './exit-codes.ts';

/** A status, or `{ errno }`: decided by the errno in the cause chain, with this fallback. */
type Rule = SysExit | { readonly errno: SysExit };

const CONFIG: Record<'UNREADABLE' | 'SYNTAX' | 'INVALID', Rule> = { UNREADABLE: { errno: EX.NOINPUT }, SYNTAX: EX.CONFIG, INVALID: EX.CONFIG };

const STORE: Record<StoreErrorCode, Rule> = {
  BAD_URL: EX.CONFIG,
  UNSAFE_PERMISSIONS: EX.CONFIG,
  SCHEMA_OUTDATED: EX.CONFIG, // run `mailanchor store migrate`, or set store.migrate_at_start
  OPEN_FAILED: { errno: EX.CANTCREAT },
  UNAVAILABLE: EX.UNAVAILABLE,
  REFUSED: EX.NOPERM,
  MIGRATION_FAILED: EX.IOERR,
  WRITE_FAILED: EX.IOERR,
  QUERY_FAILED: EX.IOERR,
  BUSY: EX.TEMPFAIL,
  CORRUPT: EX.DATAERR,
};

// A DNS failure is never a permanent verdict: asking again later may work. Except a TSIG key
// the server does not know or whose signature it rejects: that is our configuration.
const DNS: Record<DnsErrorCode, Rule> = {
  SERVFAIL: EX.TEMPFAIL,
  REFUSED: EX.TEMPFAIL,
  FORMERR: EX.TEMPFAIL,
  NOTIMP: EX.TEMPFAIL,
  TIMEOUT: EX.TEMPFAIL,
  NETWORK: EX.TEMPFAIL,
  MALFORMED: EX.TEMPFAIL,
  NOTAUTH: EX.TEMPFAIL,
  OTHER: EX.TEMPFAIL,
  ABORTED: EX.TEMPFAIL,
  BUDGET: EX.TEMPFAIL,
  YXDOMAIN: EX.TEMPFAIL,
  YXRRSET: EX.TEMPFAIL,
  NXRRSET: EX.TEMPFAIL,
  NOTZONE: EX.CONFIG, // the zone named is not the server's
  BADSIG: EX.CONFIG,
  BADKEY: EX.CONFIG,
  BADTIME: EX.TEMPFAIL, // clocks apart: fixed by NTP, not by the config
};

const REPORT: Record<ReportErrorCode, Rule> = {
  DELIVERY_TEMPORARY: EX.TEMPFAIL,
  DELIVERY_PERMANENT: EX.UNAVAILABLE,
  UNREADABLE: { errno: EX.DATAERR },
  TOO_LARGE: EX.DATAERR,
  NOT_A_REPORT: EX.DATAERR,
  NOT_OURS: EX.DATAERR,
  DUPLICATE: EX.DATAERR,
  IN_PROGRESS: EX.TEMPFAIL,
  MAILBOX: EX.TEMPFAIL, // the mailbox could not be reached or changed: the timer retries
};

const DANE: Record<DaneErrorCode, Rule> = {
  UNREADABLE: { errno: EX.NOINPUT },
  DER_NOT_PEM: EX.DATAERR,
  NOT_CERTIFICATE: EX.DATAERR,
  EXPIRED: EX.DATAERR,
  NOT_YET_VALID: EX.DATAERR,
  CHAIN_ORDER: EX.DATAERR,
  KEY_MISMATCH: EX.DATAERR,
  BAD_PARAMETER: EX.DATAERR,
  UNREACHABLE: EX.UNAVAILABLE,
  STARTTLS_REFUSED: EX.UNAVAILABLE,
  STATE: { errno: EX.DATAERR }, // unreadable (errno), or not a rollover state file
};

const KEYSTORE: Record<KeystoreErrorCode, Rule> = {
  'key-too-small': EX.DATAERR,
  'selector-invalid': EX.DATAERR,
  'selector-in-use': EX.DATAERR,
  'store-unreadable': EX.IOERR,
  'config-invalid': EX.CONFIG,
  'import-failed': { errno: EX.DATAERR },
  'lease-lost': EX.TEMPFAIL, // another run took over the domain; the next pass continues
  'lease-busy': EX.TEMPFAIL, // a rotation held the domain's lease the whole time: run again later
};

const PUBLISH: Record<PublishErrorCode, Rule> = {
  'write-failed': { errno: EX.CANTCREAT },
  'reload-failed': EX.UNAVAILABLE,
  'update-failed': EX.TEMPFAIL,
  'hook-failed': EX.UNAVAILABLE,
  'bad-record': EX.DATAERR,
};

const LISTEN: Record<ListenErrorCode, Rule> = { 'listen-failed': { errno: EX.CANTCREAT }, 'socket-in-use': EX.CANTCREAT, 'socket-permissions': EX.NOPERM };

const BY_CLASS: Readonly<Record<string, Readonly<Record<string, Rule>>>> = {
  ConfigError: CONFIG,
  StoreError: STORE,
  DnsError: DNS,
  ReportError: REPORT,
  DaneError: DANE,
  KeystoreError: KEYSTORE,
  PublishError: PUBLISH,
  MilterListenError: LISTEN,
  MetricsError: { 'listen-failed': { errno: EX.CANTCREAT } } satisfies Record<'listen-failed', Rule>,
  // MilterProtocolError, ArcError …: session-level, never meant to end a command: EX_SOFTWARE.
};

/** errno → status, for `fs`, `net` and child-process errors. */
const ERRNO: Readonly<Record<string, SysExit>> = {
  ENOENT: EX.NOINPUT,
  ENOTDIR: EX.NOINPUT,
  EISDIR: EX.NOINPUT,
  EACCES: EX.NOPERM,
  EPERM: EX.NOPERM,
  EROFS: EX.CANTCREAT,
  EEXIST: EX.CANTCREAT,
  ENOSPC: EX.IOERR,
  EDQUOT: EX.IOERR,
  EIO: EX.IOERR,
  EMFILE: EX.TEMPFAIL,
  ENFILE: EX.TEMPFAIL,
  EAGAIN: EX.TEMPFAIL,
  EADDRINUSE: EX.CANTCREAT,
  EADDRNOTAVAIL: EX.CANTCREAT,
  ECONNREFUSED: EX.UNAVAILABLE,
  ECONNRESET: EX.UNAVAILABLE,
  ETIMEDOUT: EX.UNAVAILABLE,
  EHOSTUNREACH: EX.UNAVAILABLE,
  ENETUNREACH: EX.UNAVAILABLE,
  EPIPE: EX.IOERR,
};

/** The first errno (`ENOENT` …) in the error and its causes. */
function errnoOf(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e !== undefined && e !== null && depth < 8; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^E[A-Z0-9]+$/.test(code)) return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** The exit status of a command that ends with `err`. */
export function exitFor(err: unknown): SysExit {
  const errnoStatus = (fallback: SysExit): SysExit => ERRNO[errnoOf(err) ?? ''] ?? fallback;
  if (err instanceof MailanchorError) {
    const rule = BY_CLASS[err.name]?.[err.code];
    if (rule !== undefined) return typeof rule === 'number' ? rule : errnoStatus(rule.errno);
    return errnoStatus(EX.SOFTWARE);
  }
  const code = (err as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) return EX.USAGE;
  return errnoStatus(EX.SOFTWARE);
}
