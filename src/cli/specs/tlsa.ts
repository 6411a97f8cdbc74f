import { ANSWER, EX } from '../exit-codes.ts';
import type { CommandSpec } from '../spec.ts';
import { CONFIG, CONFIG_EXITS, DNS, exits, INTERNAL, OK } from './common.ts';

const HOST = { type: 'string', arg: 'H', help: 'the TLS server name (the MX host); the owner is _PORT._PROTO.H' } as const;
const PORT = { type: 'string', arg: 'N', help: 'the port of the TLSA owner; default 25 (or the dane.sites entry)' } as const;
const PROTO = { type: 'string', arg: 'tcp|udp|sctp', help: 'the protocol of the TLSA owner; default tcp' } as const;
const NOW = { type: 'string', arg: 'ISO-TIME', help: 'evaluate at another time (what-if, tests); default now' } as const;
const SITE = {
  zone: { type: 'string', arg: 'Z', help: 'the zone holding the owner; default the host without its first label (or the dane.sites entry)' },
  auth: { type: 'string', multiple: true, arg: 'HOST[:PORT]', help: "an authoritative server to observe; repeat for more; default the zone's NS RRset" },
  ttl: { type: 'string', arg: 'SEC', help: 'TTL of the TLSA records; the deploy wait is 2 × the larger of this and the TTL served; default 3600' },
  state: { type: 'string', arg: 'FILE', help: 'the rollover state file; default one per owner in dane.state_dir' },
} as const;

const INPUT_EXITS = [
  { code: EX.DATAERR, meaning: 'an input file is not usable: DER instead of PEM, no certificate or key, a chain out of order, a key that is not the certificate\'s, an expired certificate for a PKIX usage' },
  { code: EX.NOINPUT, meaning: 'an input file does not exist or cannot be read' },
] as const;

export const TLSA = {
  name: 'tlsa',
  summary: 'DANE TLSA records: compute, rollover, check, sidecar',
  description: [
    'DANE TLSA records (RFC 6698, 7671, 7672): computed from certificates or keys, rolled over safely (publish current + next, deploy the next certificate only once its record has been served by every authoritative server for 2 × TTL), checked against what DNS and the server really present, and kept in step by a sidecar.',
  ],
  options: { config: CONFIG },
  defaultSubcommand: 'compute',
  subcommands: [
    {
      name: 'compute',
      summary: 'the TLSA records of certificate chains or keys (the default form)',
      operands: 'FILE…',
      description: [
        'Prints the TLSA records for PEM certificate chains (leaf first, then its issuers; several files for several chains, RSA and ECDSA) or bare public or private keys. The default for SMTP is `3 1 1` on the leaf key plus `2 1 1` on the issuing CA when the file holds it (RFC 7671 §5, RFC 7672 §3.1). Warnings (expired certificates, lint: PKIX usages on SMTP, no rollover scheme …) go to stderr; nothing is printed on stdout for bad input.',
        'The word `compute` may be left out: `mailanchor tlsa --host mx.example.org fullchain.pem`.',
      ],
      options: {
        host: { ...HOST, help: 'print zone lines for the owner _PORT._PROTO.H; without it, bare `3 1 1 hex` lines' },
        port: PORT,
        proto: PROTO,
        usage: { type: 'string', arg: 'U', help: 'certificate usage 0–3 instead of the default pair (1/3 pin the leaf, 0/2 the first issuer)' },
        selector: { type: 'string', arg: 'S', help: 'selector 0 (whole certificate) or 1 (public key)' },
        matching: { type: 'string', arg: 'M', help: 'matching type 0 (full), 1 (SHA-256) or 2 (SHA-512)' },
        format: { type: 'string', arg: 'zone|generic|json', help: 'output: zone lines (default), RFC 3597 generic lines, or JSON' },
        ttl: { type: 'string', arg: 'SEC', help: 'TTL in the zone lines' },
        key: { type: 'string', arg: 'FILE', help: 'the private or public key the certificate must belong to' },
        'no-lint': { type: 'boolean', help: 'no lint warnings on stderr' },
        now: NOW,
      },
      exits: exits(OK('the records were printed'), INPUT_EXITS, CONFIG_EXITS, INTERNAL),
    },
    {
      name: 'rollover',
      summary: 'the records to publish now and whether the next certificate may go live',
      operands: 'CURRENT…',
      description: [
        'Plans a rollover of one site (--host, or the only dane.sites entry): the records to publish now (current + next), what every authoritative server serves, the phase (publish-next, wait, deploy, retire-old) and whether deploying the next certificate is safe. CURRENT are the chains in service (default the site\'s cert_files); the state file remembers since when each record is served everywhere.',
      ],
      options: {
        host: HOST,
        port: PORT,
        proto: PROTO,
        next: { type: 'string', multiple: true, arg: 'FILE', help: "the next certificate chain or key; repeat for more; default the site's next_files" },
        ...SITE,
        format: { type: 'string', arg: 'zone|json', help: 'output: zone lines and comments (default) or JSON' },
        now: NOW,
      },
      exits: exits(OK('planned (the plan is printed; nothing is published)'), INPUT_EXITS, { code: EX.CANTCREAT, meaning: 'the state file cannot be written' }, CONFIG_EXITS, INTERNAL),
    },
    {
      name: 'deploy-check',
      summary: 'may CERT be deployed now without breaking DANE? (certbot hook)',
      selectedBy: 'deploy-check',
      description: [
        'For certbot (--deploy-hook, --pre-hook): observes every authoritative server, updates the rollover state and answers whether deploying CERT now keeps DANE working: a published record that matches it has been served everywhere for 2 × TTL. A nameserver that does not answer counts as not serving. Run it as the sidecar\'s user so the state files stay its own.',
      ],
      options: {
        'deploy-check': { type: 'string', arg: 'CERT', help: 'the certificate chain (or key) to be deployed' },
        host: HOST,
        port: PORT,
        proto: PROTO,
        ...SITE,
        now: NOW,
      },
      exits: [
        { code: ANSWER.YES, meaning: 'safe to deploy CERT now' },
        { code: ANSWER.NO, meaning: 'not safe yet: stderr names the record missing or the time from which it is safe (run again later)' },
        { code: ANSWER.UNKNOWN, meaning: 'cannot tell: the NS RRset cannot be looked up, a bad input file, a config error (the answer contract of docs/dane.md, kept for certbot hooks)' },
      ],
    },
    {
      name: 'check',
      summary: 'does what DNS and the server present match? (RFC 7672)',
      operands: 'HOST',
      description: [
        'Looks up the TLSA RRset through a validating resolver (the AD bit: without it DANE does not apply, RFC 7672 §2.2), connects to HOST (SMTP STARTTLS on ports 25 and 587, TLS at once elsewhere) and judges each record against the presented chain as Postfix\'s DANE client would.',
      ],
      options: {
        host: { ...HOST, help: 'HOST, when not given as the operand' },
        port: PORT,
        proto: PROTO,
        connect: { type: 'string', arg: 'ADDR', help: 'connect to this address instead of the host name' },
        dns: { ...DNS, help: 'a validating resolver to ask instead of dns.servers; repeat for more' },
        starttls: { type: 'string', arg: 'smtp|none', help: 'smtp: STARTTLS after EHLO; none: TLS at once; default smtp on ports 25 and 587' },
        json: { type: 'boolean', help: 'the result as JSON on stdout' },
        timeout: { type: 'string', arg: 'MS', help: 'per DNS query and TLS probe, in milliseconds; default dane.timeout' },
        now: NOW,
      },
      exits: [
        { code: ANSWER.YES, meaning: 'a usable record matches the presented chain' },
        { code: ANSWER.NO, meaning: 'no record matches, or none is usable' },
        { code: ANSWER.UNKNOWN, meaning: 'cannot tell: not DNSSEC-validated, no records, DNS failure, unreachable, a config error (the answer contract of docs/dane.md)' },
      ],
    },
    {
      name: 'sidecar',
      summary: 'keep the TLSA records of dane.sites in step with the certificate files',
      description: [
        'Keeps the TLSA RRset of each dane.sites entry in step with its cert_files and next_files through the rollover rules, publishing with the publisher given (manual logs the RRset to publish). Without --once it watches the files and runs every dane.interval until SIGTERM; mailanchor-tlsa.service runs it with --once from a path unit and a timer.',
      ],
      options: {
        once: { type: 'boolean', help: 'one pass over the sites, then exit' },
        publisher: { type: 'string', arg: 'manual|rfc2136|zone-file|hook', help: 'how records reach DNS; default manual (log them)' },
        server: { type: 'string', arg: 'HOST[:PORT]', help: 'rfc2136: the primary to send UPDATEs to' },
        tsig: { type: 'string', arg: 'FILE|NAME:ALG:SECRET', help: 'rfc2136: the TSIG key, a file or inline' },
        fragment: { type: 'string', arg: 'FILE', help: 'zone-file: the fragment the zone $INCLUDEs' },
        reload: { type: 'string', arg: 'COMMAND', help: 'zone-file: the command run after writing, e.g. "knotc zone-reload example.org"' },
        hook: { type: 'string', arg: 'COMMAND', help: 'hook: the command that gets the record set as JSON on stdin' },
      },
      exits: exits(OK('--once: every site is in step; else stopped by SIGTERM'), { code: EX.TEMPFAIL, meaning: '--once: a site could not be brought in step (logged): the next run retries' }, CONFIG_EXITS, INTERNAL),
    },
  ],
} as const satisfies CommandSpec;
