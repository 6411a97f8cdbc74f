/**
 * The embedded store's file: one SQLite database (node:sqlite), mode 0600, WAL. A file
 * readable or writable by group/others is refused (it holds private keys), as OpenDKIM's
 * RequireSafeKeys does.
 */
import { closeSync, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { StoreError } from '../errors.ts';

export interface OpenOptions {
  readonly readOnly?: boolean;
  /** How long a writer waits for another process's lock before BUSY (ms). */
  readonly busyTimeoutMs?: number;
}

/** Throws unless `path` is a regular file that only its owner can read or write. */
export function assertSafeFile(path: string): void {
  const st = statSync(path);
  if (!st.isFile()) throw new StoreError('UNSAFE_PERMISSIONS', `${path} is not a regular file`, { path });
  if ((st.mode & 0o077) !== 0) {
    throw new StoreError(
      'UNSAFE_PERMISSIONS',
      `${path} is accessible by group or others (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}); it holds private keys: chmod 600 ${path}`,
      { path, mode: st.mode & 0o777 },
    );
  }
}

export function openDatabase(path: string, options: OpenOptions = {}): DatabaseSync {
  try {
    if (!options.readOnly) {
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      // Create with 0600 before SQLite does (it would use the umask).
      closeSync(openSync(path, 'a', 0o600));
    }
    assertSafeFile(path);
  } catch (err) {
    if (err instanceof StoreError) throw err;
    throw new StoreError('OPEN_FAILED', `cannot open store ${path}: ${(err as Error).message}`, { path }, { cause: err });
  }
  try {
    const db = new DatabaseSync(path, { readOnly: options.readOnly ?? false });
    db.exec(`PRAGMA busy_timeout = ${Math.max(0, Math.trunc(options.busyTimeoutMs ?? 5000))}`);
    if (!options.readOnly) {
      db.exec('PRAGMA journal_mode = WAL');
      db.exec('PRAGMA synchronous = NORMAL');
    }
    db.exec('PRAGMA foreign_keys = ON');
    return db;
  } catch (err) {
    throw new StoreError('OPEN_FAILED', `cannot open store ${path}: ${(err as Error).message}`, { path }, { cause: err });
  }
}

/** SQLite's own words for a failed statement: `database or disk is full (SQLITE_FULL)`. */
export function sqliteDetail(err: unknown): { message: string; errcode?: number; errstr?: string } {
  const e = err as { message?: string; errcode?: number; errstr?: string };
  const message = e?.message ?? String(err);
  return { message, ...(typeof e?.errcode === 'number' ? { errcode: e.errcode } : {}), ...(typeof e?.errstr === 'string' ? { errstr: e.errstr } : {}) };
}

/**
 * Runs `fn` in one write transaction (BEGIN IMMEDIATE takes the write lock up front, so two
 * processes cannot both read-then-write the same state). A failure is reported with its
 * first error: on SQLITE_FULL, SQLITE_IOERR and some others SQLite has already rolled the
 * transaction back itself, and a ROLLBACK would then fail with "cannot rollback - no
 * transaction is active" — the error an operator used to see instead of "disk is full".
 */
export function transaction<T>(db: DatabaseSync, fn: () => T): T {
  try {
    db.exec('BEGIN IMMEDIATE');
  } catch (err) {
    throw writeFailed(err);
  }
  try {
    const result = fn();
    db.exec('COMMIT');
    return result;
  } catch (err) {
    if (db.isTransaction) {
      try {
        db.exec('ROLLBACK');
      } catch {
        // The first error is the one that matters; this one follows from it.
      }
    }
    throw err instanceof StoreError || !isSqliteError(err) ? err : writeFailed(err);
  }
}

function isSqliteError(err: unknown): boolean {
  return typeof (err as { errcode?: unknown })?.errcode === 'number' || (err as { code?: unknown })?.code === 'ERR_SQLITE_ERROR';
}

export function writeFailed(err: unknown): StoreError {
  const d = sqliteDetail(err);
  return new StoreError('WRITE_FAILED', `store write failed: ${d.message}`, { ...(d.errcode !== undefined ? { errcode: d.errcode } : {}), ...(d.errstr ? { errstr: d.errstr } : {}) }, { cause: err });
}
