import { EX } from '../exit-codes.ts';
import type { CommandSpec } from '../spec.ts';
import { CONFIG, OK, STORE } from './common.ts';

export const CHECK_CONFIG = {
  name: 'check-config',
  summary: 'validate the config file, like `postfix check`',
  description: [
    'Validates the config file like `postfix check`: silent with exit 0 when it is valid; otherwise every problem on stderr with its key and line. It also checks what is cheap to check outside the file: that the SQLite store can be created and is not readable by others, that a PostgreSQL password file is private, that the directory of each unix socket exists.',
    'With --print it writes the effective configuration to stdout as a config file, every value the file does not set marked `# default` (like `postconf` or `opendkim -n`); with --non-default only what the file sets (like `postconf -n`). The output is itself a valid config.',
  ],
  options: {
    config: CONFIG,
    store: STORE,
    verbose: { type: 'boolean', short: 'v', help: 'say `FILE: ok` when everything is fine' },
    print: { type: 'boolean', help: 'write the effective configuration to stdout, defaults marked' },
    'non-default': { type: 'boolean', short: 'n', help: 'with or without --print: only the values the file sets' },
  },
  exits: [
    OK('the config file is valid and what it names is usable'),
    { code: EX.NOINPUT, meaning: 'the config file named with --config does not exist' },
    { code: EX.NOPERM, meaning: 'the config file may not be read' },
    { code: EX.CONFIG, meaning: 'the config file has problems, or what it names does not work (each printed with its key)' },
  ],
} as const satisfies CommandSpec;
