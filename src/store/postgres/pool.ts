/**
 * The PostgreSQL connection pool (node-postgres) and the two ways we use it: one statement, or
 * one transaction on one connection. Errors come back as StoreError with the location — never
 * the URL's password — and the driver's error as `cause`. A connection the server cut (a
 * restart, a failover) is dropped from the pool, and the next statement opens a new one: no
 * restart of mailanchor is needed when PostgreSQL comes back.
 */
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { MailanchorError } from '../../errors.ts';
import { StoreError } from '../errors.ts';

export interface PgOptions {
  /** The URL as given (may hold a password); only the driver sees it. */
  readonly url: string;
  /** For messages: the URL without password. */
  readonly location: string;
  readonly passwordFile?: string;
  /** From the config schema (store.pool_size, connect_timeout, statement_timeout). */
  readonly poolSize: number;
  readonly connectTimeoutMs: number;
  readonly statementTimeoutMs: number;
  /** Idle connections the server dropped (restart): reported here, never thrown. */
  readonly onIdleError?: (err: StoreError) => void;
}

export type Queryable = Pick<pg.PoolClient, 'query'>;

/** SQLSTATE classes and socket errors that mean "the database is not reachable now". */
function unavailable(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  if (typeof code !== 'string') return /timeout|terminat|Connection ended|not queryable/i.test((err as Error)?.message ?? '');
  return code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03' || code === '53300' || ['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EHOSTUNREACH', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN'].includes(code);
}

export function pgError(err: unknown, location: string, what: string): StoreError {
  if (err instanceof StoreError) return err;
  const e = err as { message?: string; code?: string };
  const sqlstate = typeof e?.code === 'string' ? e.code : '';
  const code = unavailable(err) ? 'UNAVAILABLE' : sqlstate.startsWith('28') || sqlstate === '42501' ? 'REFUSED' : 'QUERY_FAILED';
  const message = `${location}: ${what}: ${e?.message ?? String(err)}`;
  return new StoreError(code, message, { store: location, ...(typeof e?.code === 'string' ? { sqlstate: e.code } : {}) }, { cause: err });
}

/**
 * The first line of the password file. Read when the store is opened (node-postgres lets a
 * connection string's empty password win over a password callback, so it goes in the URL).
 */
function readPassword(file: string, location: string): string {
  try {
    return readFileSync(file, 'utf8').split('\n')[0]!.trim();
  } catch (err) {
    throw new StoreError('OPEN_FAILED', `${location}: cannot read store.password_file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { store: location }, { cause: err });
  }
}

function withPassword(url: string, password: string): string {
  const u = new URL(url);
  u.password = encodeURIComponent(password);
  return u.toString();
}

export class PgPool {
  readonly location: string;
  readonly #pool: pg.Pool;

  constructor(o: PgOptions) {
    this.location = o.location;
    this.#pool = new pg.Pool({
      connectionString: o.passwordFile ? withPassword(o.url, readPassword(o.passwordFile, o.location)) : o.url,
      max: o.poolSize,
      connectionTimeoutMillis: o.connectTimeoutMs,
      idleTimeoutMillis: 30_000,
      keepAlive: true,
      statement_timeout: o.statementTimeoutMs,
      // Client side too: a server that vanished without a RST (a partition) must not hold a
      // connection — and the key refresh or the writer behind it — until TCP gives up.
      query_timeout: o.statementTimeoutMs + 5_000,
      application_name: 'mailanchor',
    });
    // Without a listener an idle connection cut by the server would crash the process.
    this.#pool.on('error', (err) => o.onIdleError?.(pgError(err, o.location, 'idle connection lost')));
  }

  async query<R extends pg.QueryResultRow = Record<string, unknown>>(text: string, values: readonly unknown[] = [], what = 'query failed'): Promise<pg.QueryResult<R>> {
    try {
      return await this.#pool.query<R>(text, values as unknown[]);
    } catch (err) {
      throw pgError(err, this.location, what);
    }
  }

  /** `fn` inside BEGIN … COMMIT on one connection; ROLLBACK on any error, and the first error is the one thrown. */
  async transaction<T>(fn: (c: Queryable) => Promise<T>, what = 'transaction failed'): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (err) {
      throw pgError(err, this.location, 'cannot connect');
    }
    let broken = false;
    // A connection the server cuts between two statements emits 'error' on the client; while
    // it is checked out nobody else listens, and an unheard 'error' would end the process.
    let cut: unknown;
    const onError = (err: unknown): void => {
      cut = err;
      broken = true;
    };
    client.on('error', onError);
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      try {
        await client.query('ROLLBACK');
      } catch {
        broken = true; // the connection is gone; the first error is what matters
      }
      // Our own errors (a lost lease, a refused selector) pass unchanged.
      throw err instanceof MailanchorError ? err : pgError(cut ?? err, this.location, what);
    } finally {
      client.off('error', onError);
      client.release(broken);
    }
  }

  async end(): Promise<void> {
    await this.#pool.end();
  }
}
