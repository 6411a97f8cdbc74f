/**
 * The embedded store: one SQLite file (node:sqlite), mode 0600, WAL, shared by the
 * keystore, the DMARC evaluation log and the report ledger. Each feature owns its tables
 * and migrates them with `migrate(db, feature, steps)`. A file readable or writable by
 * group/others is refused (it holds private keys), as OpenDKIM's RequireSafeKeys does.
 */
import { closeSync, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { MailanchorError } from '../errors.ts';

export type StoreErrorCode = 'UNSAFE_PERMISSIONS' | 'OPEN_FAILED' | 'MIGRATION_FAILED' | 'BUSY' | 'CORRUPT';
export class StoreError extends MailanchorError<StoreErrorCode> {}

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

/**
 * Runs `fn` in one write transaction (BEGIN IMMEDIATE takes the write lock up front, so two
 * processes cannot both read-then-write the same state).
 */
export function transaction<T>(db: DatabaseSync, fn: () => T): T {
  db.exec('BEGIN IMMEDIATE');
  try {
    const result = fn();
    db.exec('COMMIT');
    return result;
  } catch (err) {
    db.exec('ROLLBACK');
    throw err;
  }
}

/** Applies the feature's schema steps that have not run yet; step i brings it to version i+1. */
export function migrate(db: DatabaseSync, feature: string, steps: readonly string[]): void {
  try {
    transaction(db, () => {
      db.exec('CREATE TABLE IF NOT EXISTS schema_versions (feature TEXT PRIMARY KEY, version INTEGER NOT NULL)');
      const row = db.prepare('SELECT version FROM schema_versions WHERE feature = ?').get(feature) as { version: number } | undefined;
      const current = row?.version ?? 0;
      if (current > steps.length) {
        throw new StoreError('MIGRATION_FAILED', `store schema for ${feature} is version ${current}, newer than this mailanchor (${steps.length})`, { feature });
      }
      for (let v = current; v < steps.length; v++) db.exec(steps[v]!);
      db.prepare('INSERT INTO schema_versions (feature, version) VALUES (?, ?) ON CONFLICT(feature) DO UPDATE SET version = excluded.version').run(feature, steps.length);
    });
  } catch (err) {
    if (err instanceof StoreError) throw err;
    throw new StoreError('MIGRATION_FAILED', `cannot migrate ${feature} tables: ${(err as Error).message}`, { feature }, { cause: err });
  }
}
