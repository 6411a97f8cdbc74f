import { EX } from '../exit-codes.ts';
import type { CommandSpec } from '../spec.ts';
import { CONFIG, CONFIG_EXITS, DNS, exits, INTERNAL, OK, STORE, STORE_EXITS } from './common.ts';

export const MILTER = {
  name: 'milter',
  summary: 'run the milter (inbound verification, outbound signing)',
  description: [
    'Runs the milter Postfix connects to (milter protocol 6): mail from outside is verified (SPF, DKIM, DMARC, ARC, iprev), one Authentication-Results header is written and the DMARC policy applied; mail from our own users (SASL-authenticated, outbound.trusted_networks, outbound.trusted_daemons) is DKIM-signed with the active keys of the keystore.',
    'It runs in the foreground until SIGTERM or SIGINT, then stops accepting, lets the messages in flight finish for milter.drain_timeout and exits 0. SIGHUP re-reads the config (an invalid one is logged and the old one kept). Key changes need no signal. With milter.workers (or --workers) above 1 this process is the cluster primary and the same command runs in each worker.',
  ],
  options: {
    config: CONFIG,
    store: STORE,
    listen: { type: 'string', multiple: true, arg: 'SPEC', help: 'where Postfix connects, instead of milter.listen: inet:HOST:PORT, inet6:[ADDR]:PORT or unix:/path; repeat for more than one' },
    'socket-mode': { type: 'string', arg: 'MODE', help: 'octal mode of a unix socket, instead of milter.socket_mode (0660)' },
    'socket-group': { type: 'string', arg: 'GROUP', help: 'group of a unix socket, instead of milter.socket_group' },
    'metrics-listen': { type: 'string', arg: 'HOST:PORT|off', help: 'the Prometheus endpoint, instead of metrics.listen; off for none (a second instance beside the service). It may not be a milter listen address' },
    dns: DNS,
    filter: { type: 'string', arg: 'mail|test-header', help: 'mail (default): verification and signing; test-header: adds one header and nothing else (tests)' },
    workers: { type: 'string', arg: 'N|auto', help: 'worker processes, instead of milter.workers: a number from 1 to 64, or auto for one per core' },
  },
  exits: exits(
    OK('stopped by SIGTERM or SIGINT after the messages in flight finished'),
    CONFIG_EXITS,
    STORE_EXITS,
    { code: EX.CANTCREAT, meaning: 'a listen address or socket cannot be created (in use, no such directory)' },
    { code: EX.NOPERM, meaning: "the socket's owner or mode cannot be set, or a file it needs may not be read" },
    { code: EX.SOFTWARE, meaning: 'more than 10 errors outside any session within a minute, or the shutdown failed: systemd or the cluster primary starts it again' },
    INTERNAL,
  ),
} as const satisfies CommandSpec;
