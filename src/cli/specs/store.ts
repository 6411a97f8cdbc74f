import { EX } from '../exit-codes.ts';
import type { CommandSpec } from '../spec.ts';
import { CONFIG, CONFIG_EXITS, exits, INTERNAL, OK, STORE, STORE_EXITS } from './common.ts';

export const STORE_COMMAND = {
  name: 'store',
  summary: 'the store: migrate (schema, or SQLite → PostgreSQL) | status',
  description: ['The store holds the keys, the DMARC evaluations, the report ledger and the received reports: a SQLite file on one host, or one PostgreSQL database for a fleet (docs/fleet.md).'],
  options: { config: CONFIG, store: STORE },
  subcommands: [
    {
      name: 'migrate',
      summary: "apply pending schema migrations; or copy a host's SQLite store into PostgreSQL",
      forms: ['', '--from FILE --to URL [--skip-keys]'],
      description: [
        'Applies the pending schema migrations to the store: run once per upgrade for a fleet (the milter and the commands also do it at start unless store.migrate_at_start is false).',
        'With --from and --to: brings both to this version\'s schema and copies a host\'s SQLite store into a (new) PostgreSQL store, printing each table as it goes.',
      ],
      options: {
        from: { type: 'string', arg: 'FILE', help: 'the SQLite store to copy' },
        to: { type: 'string', arg: 'URL', help: 'the PostgreSQL store to copy into (postgresql://USER@HOST:PORT/DB)' },
        'skip-keys': { type: 'boolean', help: 'copy everything but the DKIM keys' },
      },
      exits: exits(OK('the schema is current (or was copied)'), { code: EX.IOERR, meaning: 'a migration or the copy failed (nothing half-applied: each migration is one transaction)' }, CONFIG_EXITS, STORE_EXITS, INTERNAL),
    },
    { name: 'status', summary: 'schema version per feature, keys, evaluations and reports held', exits: exits(OK('done'), CONFIG_EXITS, STORE_EXITS, INTERNAL) },
  ],
} as const satisfies CommandSpec;
