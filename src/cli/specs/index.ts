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
    'Every command reads the config file /etc/mailanchor/mailanchor.yml (mailanchor.yml(5); --config FILE names another; without the file the built-in defaults apply). Logs go to stderr (log.format, one line per event), results to stdout. Long work (a rotation asking nameservers, report deliveries, an audit) shows a progress line on stderr when stderr is a terminal, and none in pipes, from cron or under systemd.',
    'Every command and subcommand answers --help (or -h, or `mailanchor help COMMAND [SUBCOMMAND]`) with its usage, options and exit statuses, and exits 0.',
  ],
  environment: [
    { name: 'STATE_DIRECTORY', text: "Set by systemd's StateDirectory=: the default store.path and audit.state_dir are under its first directory." },
    { name: 'MAILANCHOR_STATE_DIR', text: 'The same outside systemd (`npm start` sets it to var).' },
    { name: 'CREDENTIALS_DIRECTORY', text: "Set by systemd's LoadCredential=: a relative reports.import.imap.password_file is read from there." },
    { name: 'JOURNAL_STREAM', text: "Set by systemd when stderr is the journal: log lines then start with the syslog priority (<4> …), which journald turns into the entry's priority." },
    { name: 'TERM', text: 'With TERM=dumb the progress line is redrawn with spaces instead of an erase sequence.' },
  ],
  files: [
    { name: '/etc/mailanchor/mailanchor.yml', text: 'The config file, mailanchor.yml(5).' },
    { name: '/var/lib/mailanchor/mailanchor.db', text: 'The SQLite store: DKIM keys (private: mode 0600), DMARC evaluations, the report ledger, received reports.' },
    { name: '/var/spool/postfix/mailanchor/milter.sock', text: "The milter's socket as installed, inside Postfix's queue directory, which chrooted smtpd and cleanup reach as unix:mailanchor/milter.sock." },
    { name: '/var/lib/mailanchor/dane/', text: 'The TLSA rollover state, one file per owner.' },
    { name: '/opt/mailanchor/', text: 'The installed code, with docs/ (every decision and its RFC section) and mailanchor.example.yml.' },
    { name: '/usr/local/lib/systemd/system/mailanchor-*', text: 'The units: the milter service, and the timers of keys rotate, report send, report import, tlsa sidecar and audit.' },
  ],
  seeAlso: ['mailanchor.yml(5)', 'postfix(1)', 'postconf(5)', 'master(5)', 'systemd.exec(5)', 'opendkim(8)', 'certbot(1)'],
} as const;
