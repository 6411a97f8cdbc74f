import { MailanchorError } from '../errors.ts';

export type StoreErrorCode =
  | 'BAD_URL' // the store location does not parse
  | 'UNSAFE_PERMISSIONS' // a SQLite file group/others can read
  | 'OPEN_FAILED'
  | 'UNAVAILABLE' // PostgreSQL cannot be reached now (transient)
  | 'MIGRATION_FAILED'
  | 'SCHEMA_OUTDATED' // older than this mailanchor needs, and migrate_at_start is off
  | 'WRITE_FAILED' // a write failed (disk full, read-only, constraint); the first error is the cause
  | 'QUERY_FAILED' // a PostgreSQL statement failed for another reason than reachability
  | 'REFUSED' // PostgreSQL refused us: authentication or permission (SQLSTATE 28xxx, 42501)
  | 'BUSY'
  | 'CORRUPT';

export class StoreError extends MailanchorError<StoreErrorCode> {}
