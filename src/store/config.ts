/** The `store:` section: which database holds keys, DMARC evaluations and the report ledger. */
import { join } from 'node:path';
import { bool, duration, int, object, optional, str, withDefault, type Infer } from '../config/schema.ts';

/**
 * systemd's StateDirectory= sets $STATE_DIRECTORY; `npm start` sets MAILANCHOR_STATE_DIR=var
 * so a fresh checkout runs without root. Otherwise the FHS place.
 */
export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.MAILANCHOR_STATE_DIR ?? env.STATE_DIRECTORY?.split(':')[0] ?? '/var/lib/mailanchor';
}

export const storeSection = object({
  /**
   * The store: a file path (embedded SQLite, one host) or `postgresql://user@host:port/db`
   * (shared by a fleet; TLS with `?sslmode=verify-full&sslrootcert=…`). When set it wins
   * over `path`. Never logged with its password.
   */
  url: optional(str()),
  /** The SQLite file (the form from before `url`), mode 0600. */
  path: withDefault(str(), () => join(defaultStateDir(), 'mailanchor.db'), '$STATE_DIRECTORY/mailanchor.db (systemd StateDirectory=), else /var/lib/mailanchor/mailanchor.db'),
  /** PostgreSQL: a file whose first line is the password, when the URL carries none. */
  password_file: optional(str()),
  /**
   * Apply pending schema migrations when the milter (or any command) starts. false: only
   * check, and refuse an older schema (run `mailanchor store migrate` from your deploy).
   */
  migrate_at_start: withDefault(bool(), true),
  /**
   * PostgreSQL connections per process, at most. A milter process uses two at a time (its
   * evaluation writer and its key refresh); the server needs hosts × workers × this.
   */
  pool_size: withDefault(int({ min: 1, max: 64 }), 2),
  /** PostgreSQL: give up connecting after this long. */
  connect_timeout: withDefault(duration({ min: 100, max: 120_000 }), 5_000),
  /** PostgreSQL: statement_timeout of our sessions. */
  statement_timeout: withDefault(duration({ min: 100, max: 600_000 }), 15_000),
  /** The milter re-reads the signing keys at most this long after any host changed one. */
  key_refresh: withDefault(duration({ min: 100, max: 600_000 }), 1_000),
  /** Evaluations waiting for the writer, at most; beyond this they are dropped and counted. */
  evaluation_queue: withDefault(int({ min: 1, max: 10_000_000 }), 50_000),
  /** Evaluations per INSERT transaction. */
  evaluation_batch: withDefault(int({ min: 1, max: 10_000 }), 500),
  /** The writer flushes at least this often while evaluations wait. */
  evaluation_flush: withDefault(duration({ min: 10, max: 60_000 }), 250),
});

export type StoreConfig = Infer<typeof storeSection>;
