/**
 * Every command's spec, in the order `mailanchor --help` and mailanchor(8) list them, and
 * the program's own description. Plain data: importing it loads no command.
 */
import type { CommandSpec } from '../spec.ts';
import { AUDIT } from './audit.ts';
import { CHECK_CONFIG } from './check-config.ts';
import { KEYS } from './keys.ts';
import { MILTER } from './milter.ts';
import { REPORT } from './report.ts';
import { STORE_COMMAND } from './store.ts';
import { TLSA } from './tlsa.ts';

export const COMMANDS: readonly CommandSpec[] = [MILTER, CHECK_CONFIG, KEYS, TLSA, REPORT, AUDIT, STORE_COMMAND];

export const PROGRAM = {
  name: 'mailanchor',
  summary: 'DKIM signing and key rotation, SPF/DKIM/DMARC/ARC verification, DANE and DMARC reports beside Postfix',
  description: [
    'mailanchor is a service beside Postfix: a milter that verifies inbound mail (SPF, DKIM, DMARC, ARC, iprev), writes one Authentication-Results header and applies the sender\'s DMARC policy, and DKIM-signs the mail of your own users; a DKIM keystore with rotation that publishes through your DNS; a DANE sidecar; DMARC aggregate reports sent and received; and an audit of every domain it serves.',
    'Every command reads the config file /etc/mailanchor/mailanchor.yml (mailanchor.yml(5); --config FILE names another; without the file the built-in defaults apply). Logs go to stderr (log.format, one line per event), results to stdout. Long work shows a progress line on stderr when stderr is a terminal, and none in pipes or from cron or systemd.',
  ],
} as const;
