import { ANSWER } from '../exit-codes.ts';
import type { CommandSpec } from '../spec.ts';
import { CONFIG, DNS } from './common.ts';

export const AUDIT = {
  name: 'audit',
  summary: 'domain audit: NS, DNSSEC, MX, PTR, SPF, DKIM, DMARC, DANE, MTA-STS, TLS-RPT',
  operands: '[DOMAIN…]',
  description: [
    'Runs every check of docs/audit.md for each domain, on every authoritative server: NS, DNSSEC, MX, PTR of the sending addresses, SPF, DKIM (the keystore\'s selectors and --selector), DMARC and its rua destinations, DANE, MTA-STS, TLS-RPT. With --connect it also talks STARTTLS to every MX address and fetches the MTA-STS policy. The text report lists what is not ok (all with --verbose); --json is the documented JSON contract.',
    'On a terminal a progress line on stderr counts the domains done and those failing; in a pipe or from cron there is none.',
  ],
  options: {
    config: CONFIG,
    all: { type: 'boolean', help: 'every domain the config knows: keys.domains, the zones of dane.sites, reports.domains, audit.domains' },
    dns: { ...DNS, help: 'a resolver to ask instead of dns.servers (use a validating one, e.g. a local Unbound); repeat for more' },
    selector: { type: 'string', multiple: true, arg: 'S', help: "a DKIM selector to check for every domain, besides the keystore's; repeat for more" },
    connect: { type: 'boolean', help: 'STARTTLS to every MX address (DANE) and the MTA-STS policy over HTTPS' },
    json: { type: 'boolean', help: 'the JSON report (docs/audit.md) on stdout' },
    html: { type: 'string', arg: 'FILE', help: 'also write one self-contained HTML page' },
    verbose: { type: 'boolean', short: 'v', help: 'text report: the ok results too' },
    'metrics-file': { type: 'string', arg: 'FILE', help: "a Prometheus textfile for node_exporter; default audit.metrics_file" },
    concurrency: { type: 'string', arg: 'N', help: 'domains audited at once; default audit.concurrency' },
    timeout: { type: 'string', arg: 'SEC', help: 'wall time per domain; default audit.domain_timeout' },
    store: { type: 'string', arg: 'FILE|URL', help: "the keystore to read the selectors from (never written); default the config's store" },
    'ca-file': { type: 'string', arg: 'PEM', help: 'extra CA certificates for the MTA-STS policy fetch; default audit.ca_file' },
  },
  usageExit: ANSWER.UNKNOWN,
  exits: [
    { code: ANSWER.YES, meaning: 'no check says fail or error' },
    { code: ANSWER.NO, meaning: 'at least one check says fail or error (an audit that could not look must not tell cron all is well), or the metrics file could not be written' },
    { code: ANSWER.UNKNOWN, meaning: 'the audit could not run: a usage error or a config error. The audit keeps this 0/1/2 contract of docs/audit.md instead of 64 and 78' },
  ],
} as const satisfies CommandSpec;
