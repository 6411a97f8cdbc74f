/**
 * Every exit status a mailanchor command returns: the closed list.
 *
 * Most are <sysexits.h> (BSD sysexits(3)), the statuses Postfix's sendmail, OpenDKIM and
 * the other tools a postmaster already runs use, so a systemd unit (`SuccessExitStatus=75`,
 * `RestartPreventExitStatus=64 78`), a cron wrapper or a certbot hook can tell a usage or
 * configuration error (fix and run again) from a transient failure (the next run will do it).
 * A command never exits 1 for "something went wrong".
 *
 * Three commands answer a question and keep the answer contract their issues specified,
 * like grep(1) and test(1): `audit` (docs/audit.md: 0 nothing fails, 1 a check says fail or
 * error, 2 the audit cannot run — usage and config errors included), `tlsa check` and
 * `tlsa --deploy-check` (docs/dane.md: 0 yes, 1 no, 2 could not tell). Those are `ANSWER`.
 */

/** <sysexits.h>, the subset mailanchor uses. */
export const EX = {
  /** Done. */
  OK: 0,
  /** EX_USAGE: the command line is wrong (unknown option, missing operand, bad flag value). */
  USAGE: 64,
  /** EX_DATAERR: input data is wrong (a certificate that is not PEM, a report that is not one). */
  DATAERR: 65,
  /** EX_NOINPUT: an input file named on the command line or in the config does not exist or cannot be read. */
  NOINPUT: 66,
  /** EX_UNAVAILABLE: a service we need is not there (PostgreSQL unreachable, a program missing). */
  UNAVAILABLE: 69,
  /** EX_SOFTWARE: an internal error (a bug): please report it. */
  SOFTWARE: 70,
  /** EX_CANTCREAT: an output file or socket cannot be created. */
  CANTCREAT: 73,
  /** EX_IOERR: reading or writing failed (disk full, read-only file system, a store write failed). */
  IOERR: 74,
  /** EX_TEMPFAIL: not done now, and running again later will (deferred deliveries, a busy lease, DNS trouble). */
  TEMPFAIL: 75,
  /** EX_NOPERM: permission denied (a file we may not read or write, the database refused our role). */
  NOPERM: 77,
  /** EX_CONFIG: the configuration is wrong (the config file, or what it names is in the wrong state). */
  CONFIG: 78,
} as const;

export type SysExit = (typeof EX)[keyof typeof EX];

/** The answer of a command that answers a question (audit, tlsa check, tlsa --deploy-check). */
export const ANSWER = {
  /** Yes: nothing fails / the records match / safe to deploy. */
  YES: 0,
  /** No: a check fails / no record matches / not safe to deploy. */
  NO: 1,
  /** Cannot tell: not validated, unreachable, or (audit) the audit could not run. */
  UNKNOWN: 2,
} as const;

export type AnswerExit = (typeof ANSWER)[keyof typeof ANSWER];

/** What a command may return. */
export type ExitCode = SysExit | AnswerExit;

/** The <sysexits.h> names and their meaning, for `--help` and the man page's EXIT STATUS. */
export const SYSEXITS: Readonly<Record<SysExit, { readonly name: string; readonly meaning: string }>> = {
  0: { name: 'EX_OK', meaning: 'done' },
  64: { name: 'EX_USAGE', meaning: 'usage error: an unknown option, a missing or extra operand, a bad option value' },
  65: { name: 'EX_DATAERR', meaning: 'input data is not what it must be (a certificate, key, key table or report that does not parse)' },
  66: { name: 'EX_NOINPUT', meaning: 'an input file does not exist or cannot be read' },
  69: { name: 'EX_UNAVAILABLE', meaning: 'a service mailanchor needs is unavailable (PostgreSQL, a program it runs)' },
  70: { name: 'EX_SOFTWARE', meaning: 'internal error (a bug; please report it)' },
  73: { name: 'EX_CANTCREAT', meaning: 'an output file or socket cannot be created' },
  74: { name: 'EX_IOERR', meaning: 'an input/output error (disk full, read-only file system, a store write failed)' },
  75: { name: 'EX_TEMPFAIL', meaning: 'temporary failure: not done now, running again later will (deferred deliveries, a held lease, DNS trouble)' },
  77: { name: 'EX_NOPERM', meaning: 'permission denied (a file, a socket, a database role)' },
  78: { name: 'EX_CONFIG', meaning: 'configuration error: the config file, or what it names, is wrong' },
};

export const isExitCode = (n: number): n is ExitCode => n in SYSEXITS || n === 1 || n === 2;
