/** Options and exit statuses several commands share, so each is worded once. */
import { EX } from '../exit-codes.ts';
import type { ExitSpec } from '../spec.ts';

export const CONFIG = {
  type: 'string',
  arg: 'FILE',
  help: 'the config file (mailanchor.yml(5)); default /etc/mailanchor/mailanchor.yml, and the built-in defaults when that file does not exist (a file named here must exist)',
} as const;

export const STORE = {
  type: 'string',
  arg: 'FILE|URL',
  help: 'the store: a SQLite file, or postgresql://USER@HOST:PORT/DB for a fleet; wins over store.url and store.path',
} as const;

export const DNS = {
  type: 'string',
  multiple: true,
  arg: 'HOST[:PORT]',
  help: 'a recursive resolver to ask instead of dns.servers; repeat for more than one',
} as const;

export const OK = (meaning: string): ExitSpec => ({ code: EX.OK, meaning });

/** What loading the config file can end with. */
export const CONFIG_EXITS: readonly ExitSpec[] = [
  { code: EX.NOINPUT, meaning: 'the config file named with --config does not exist' },
  { code: EX.NOPERM, meaning: 'a file or directory it needs may not be read or written, or the database refused our role' },
  { code: EX.CONFIG, meaning: 'the configuration is wrong: the config file (every problem with its key and line), or the state of what it names (a store file others can read, an older store schema with store.migrate_at_start off)' },
];

/** What opening and using the store can end with, besides the config's statuses. */
export const STORE_EXITS: readonly ExitSpec[] = [
  { code: EX.UNAVAILABLE, meaning: 'the store (PostgreSQL) cannot be reached' },
  { code: EX.CANTCREAT, meaning: 'the SQLite store file cannot be created' },
  { code: EX.IOERR, meaning: 'reading or writing the store failed' },
  { code: EX.TEMPFAIL, meaning: 'the store is busy (locked by another process); run again' },
];

export const INTERNAL: ExitSpec = { code: EX.SOFTWARE, meaning: 'internal error (a bug: please report it with the message)' };

/** Entries by code, first wins; sorted. */
export function exits(...lists: readonly (ExitSpec | readonly ExitSpec[])[]): readonly ExitSpec[] {
  const out = new Map<number, ExitSpec>();
  for (const e of lists.flat()) if (!out.has(e.code)) out.set(e.code, e);
  return [...out.values()].sort((a, b) => a.code - b.code);
}
