import { EX } from '../exit-codes.ts';
import type { CommandSpec } from '../spec.ts';
import { CONFIG, CONFIG_EXITS, DNS, exits, INTERNAL, OK, STORE, STORE_EXITS } from './common.ts';

const HTML = { type: 'string', arg: 'OUT', help: 'also write the page as one self-contained HTML file' } as const;
const JSON_OUT = { type: 'string', arg: 'OUT|-', help: 'also write the page as JSON to OUT; - writes only the JSON, to stdout' } as const;
const NO_DNS = { type: 'boolean', help: 'no reverse lookups of the source addresses' } as const;
const STORE_ONLY = exits(OK('done'), CONFIG_EXITS, STORE_EXITS, INTERNAL);

export const REPORT = {
  name: 'report',
  summary: 'DMARC aggregate reports: send, show, suppress, read, import, page',
  description: [
    'Both sides of DMARC aggregate reporting (RFC 9990). As a receiver: reports built from the evaluations the milter stores, sent to the rua= addresses of the domains mail came from (send, show, suppress, unsuppress). As a domain owner: the DMARC and TLS-RPT reports others send you, read, kept in a history and explained (read, import, page).',
  ],
  options: { config: CONFIG, store: STORE },
  subcommands: [
    {
      name: 'send',
      summary: 'generate due reports and send them (dry run: show what would go where)',
      description: [
        'One run of the daily job (mailanchor-report.timer): every period that has ended becomes one report per policy domain, each destination passes the suppression list and the external destination check of RFC 9990 §6, and the MTA gets the message. A delivery is marked sent only when the MTA took it; anything else is retried by the next run. Safe to run twice and on every host of a fleet.',
        'With --now or --period: on-demand reports, to see one before UTC midnight. They are marked (an `ondemand` Report-ID, an explanation in the report and its text part), never stored, never retried, so the scheduled report of the period is made in full as usual. With reports.enabled false only --to is allowed.',
        'On a terminal a progress line on stderr counts the deliveries and names the one under way.',
      ],
      forms: ['[--dry-run] [--dns HOST[:PORT]]...', '--now | --period START..END [--to ADDRESS] [--dry-run] [--dns HOST[:PORT]]...'],
      options: {
        'dry-run': { type: 'boolean', help: 'show what would be generated and sent where; store and send nothing' },
        dns: { ...DNS, help: 'a resolver for the destination checks instead of dns.servers; repeat for more' },
        now: { type: 'boolean', help: "an on-demand report of each domain's period so far, sent now and not stored (the scheduled report is made as usual)" },
        period: { type: 'string', arg: 'START..END', help: 'an on-demand report of this window: dates (UTC midnight) or ISO times, END exclusive' },
        to: { type: 'string', arg: 'ADDRESS', help: "with --now or --period: send every on-demand report to this address instead of the rua destinations" },
      },
      exits: exits(
        OK('every due report was sent or skipped for a reason (printed)'),
        { code: EX.TEMPFAIL, meaning: 'some deliveries were deferred: the next run retries them (mailanchor-report.service counts this as success); on-demand reports are not retried' },
        CONFIG_EXITS,
        STORE_EXITS,
        INTERNAL,
      ),
    },
    { name: 'show', summary: 'reports, deliveries, suppressions and bounces in the store', exits: STORE_ONLY },
    { name: 'suppress', summary: 'never send reports there', operands: 'ADDRESS|DOMAIN', description: ['Adds an address (a@b.example) or a domain (b.example and its subdomains) to the suppression list in the store.'], exits: STORE_ONLY },
    { name: 'unsuppress', summary: 'remove from the suppression list (and forget its bounces)', operands: 'ADDRESS|DOMAIN', exits: STORE_ONLY },
    {
      name: 'read',
      summary: 'read received DMARC and TLS reports and show the page (no store needed)',
      operands: 'PATH…',
      description: ['Reads received DMARC reports (XML, .gz, .zip, mail, Maildir, mbox, found by content at every level) and TLS-RPT reports from the files and directories given and shows the page: per domain and day, the sources, what fails and why. Nothing is stored.'],
      options: { html: HTML, json: JSON_OUT, 'no-dns': NO_DNS, dns: DNS },
      exits: exits(OK('something was read (or nothing failed)'), { code: EX.DATAERR, meaning: 'every input was unusable (each named with its reason)' }, CONFIG_EXITS, { code: EX.CANTCREAT, meaning: 'an output file cannot be written' }, INTERNAL),
    },
    {
      name: 'import',
      summary: 'store received reports in the history (no PATH: fetch them over IMAP)',
      operands: '[PATH…]',
      description: [
        "Stores received reports in the store's history (one history for a fleet on PostgreSQL), de-duplicated. Without PATH it fetches them from the mailbox of reports.import.imap and moves each message to the processed or failed folder; one importer per mailbox at a time across the fleet (a lease in the store).",
        'On a terminal a progress line on stderr counts what was stored.',
      ],
      exits: exits(
        OK('done, also when another host holds the mailbox'),
        { code: EX.DATAERR, meaning: 'PATHs were given and none held a report' },
        { code: EX.TEMPFAIL, meaning: 'the mailbox or the store was unavailable: nothing was moved; the next run retries' },
        CONFIG_EXITS,
        STORE_EXITS,
        INTERNAL,
      ),
    },
    {
      name: 'page',
      summary: 'the page from the history, with explanations and the next policy step',
      description: ['The page of the last reports.page.window from the history, with explanations from our keystore and DANE state (a selector that was retired, a TLSA record that did not match) and the next DMARC policy step the figures allow.'],
      options: { html: HTML, json: JSON_OUT, days: { type: 'string', arg: 'N', help: 'the last N days instead of reports.page.window' }, domain: { type: 'string', multiple: true, arg: 'D', help: 'only this domain; repeat for more; default reports.domains' }, 'no-dns': NO_DNS, dns: DNS },
      exits: exits(OK('done'), CONFIG_EXITS, STORE_EXITS, { code: EX.CANTCREAT, meaning: 'an output file cannot be written' }, INTERNAL),
    },
  ],
} as const satisfies CommandSpec;
