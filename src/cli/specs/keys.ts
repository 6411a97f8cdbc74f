import { EX } from '../exit-codes.ts';
import type { CommandSpec } from '../spec.ts';
import { CONFIG, CONFIG_EXITS, DNS, exits, INTERNAL, OK, STORE, STORE_EXITS } from './common.ts';

const DOMAIN_FILTER = { type: 'string', arg: 'D', help: 'only this domain (default: every domain of keys.domains)' } as const;
const DOMAIN = { type: 'string', arg: 'D', help: 'the domain (required)' } as const;

const KEY_EXITS = exits(OK('done'), CONFIG_EXITS, STORE_EXITS, INTERNAL);

export const KEYS = {
  name: 'keys',
  summary: 'DKIM keys and their rotation: list, status, rotate, generate, publish, retire, import',
  description: [
    'The DKIM keystore and its rotation. Each signing domain of keys.domains has keys that go through published (in DNS, not used yet), active (signing), retired (still in DNS for mail in flight), revoked (empty p=) and removed; a key becomes active only once every authoritative nameserver serves it. `keys rotate`, run hourly by mailanchor-keys-rotate.timer, makes every step; the other subcommands look and repair.',
    'The store and the resolver come from the config; --store and --dns override them, so a test needs no config file.',
  ],
  options: { config: CONFIG, store: STORE, dns: DNS },
  subcommands: [
    { name: 'list', summary: 'every key: domain, selector, algorithm, state, since', options: { domain: DOMAIN_FILTER }, exits: KEY_EXITS },
    {
      name: 'status',
      summary: 'what each key waits for (asks every authoritative nameserver)',
      description: ['For every key that is not removed: its state since when, and what it waits for: a published key is looked up on every authoritative nameserver of its zone (or keys.domains.D.nameservers), an active one shows when its rotation is due. For a hosted domain it also prints the CNAMEs the customer publishes once.'],
      options: { domain: DOMAIN_FILTER },
      exits: KEY_EXITS,
    },
    {
      name: 'rotate',
      summary: 'one rotation pass for every configured domain (cron/timer)',
      description: [
        'One idempotent rotation pass over keys.domains, safe to run every hour and to kill at any point: for each domain (under a lease in the store, so two hosts never rotate it at once) it observes what every authoritative nameserver serves, then generates, publishes, activates, retires, revokes and removes keys as their time comes. Each domain gets a report: what was done, what waits and why.',
        'On a terminal a progress line on stderr names the domain and the nameservers being asked.',
      ],
      options: { now: { type: 'boolean', help: 'start a new rotation now, whatever the age of the active key' }, domain: DOMAIN_FILTER },
      exits: exits(OK('every domain is in step or waiting (for DNS, for its retire period); a domain another run holds is skipped'), { code: EX.TEMPFAIL, meaning: 'a domain failed (its error is printed): the next pass retries it' }, CONFIG_EXITS, STORE_EXITS, INTERNAL),
    },
    {
      name: 'generate',
      summary: 'start a rotation now (new keys, published, activated when seen)',
      forms: ['--domain D'],
      description: ['Starts a rotation of one domain now: new keys are generated and published; the next passes of `keys rotate` activate them once every nameserver serves them.'],
      options: { domain: DOMAIN },
      exits: exits(OK('the rotation started'), { code: EX.TEMPFAIL, meaning: 'the domain failed (the error is printed): run again' }, CONFIG_EXITS, STORE_EXITS, INTERNAL),
    },
    { name: 'publish', summary: "publish the domain's record set again (repair)", forms: ['--domain D'], description: ['Publishes the whole record set of one domain again through its publisher, as the store says it should be (after a zone was restored from an old backup, say).'], options: { domain: DOMAIN }, exits: exits(OK('published'), { code: EX.UNAVAILABLE, meaning: 'the publisher failed (the reload command or hook)' }, { code: EX.TEMPFAIL, meaning: 'the DNS update was not accepted now' }, CONFIG_EXITS, STORE_EXITS, INTERNAL) },
    {
      name: 'retire',
      summary: 'retire a key by hand (it stays published until revoked)',
      forms: ['--domain D --selector S'],
      description: ["Retires one key by hand, through the lifecycle and under the domain's rotation lease (it never races a timer-driven `keys rotate`): it stops signing and stays published for the retire period. A warning says when no active key of its algorithm is left (then run `keys generate`)."],
      options: { domain: DOMAIN, selector: { type: 'string', arg: 'S', help: 'the selector of the key (required)' } },
      exits: exits(OK('retired'), { code: EX.TEMPFAIL, meaning: "a rotation held the domain's lease the whole time: run again later" }, CONFIG_EXITS, STORE_EXITS, INTERNAL),
    },
    {
      name: 'import',
      summary: 'take over OpenDKIM keys (KeyTable, SigningTable), or one key file',
      forms: ['--opendkim-conf FILE [--nameserver HOST[:PORT]]...', '--keytable FILE [--signingtable [refile:]FILE] [--nameserver HOST[:PORT]]...', '--domain D --selector S --key FILE [--nameserver HOST[:PORT]]...'],
      description: [
        'Takes over existing keys with their selectors (docs/migrating-from-opendkim.md): every key of an OpenDKIM KeyTable, with the SigningTable to tell which domains each key signs for, or the tables an opendkim.conf names, or one PEM key file. Each key is observed on every authoritative server of its domain first: it is active only when every one serves it, otherwise published, and rotation activates it once DNS shows it. A domain that already has keys of that algorithm is not taken over again. Imports go through the rotation lease, so they never race a timer-driven `keys rotate`.',
        'It prints the keys.domains block (and outbound mappings) to add to the config: rotation manages only the domains listed there.',
      ],
      options: {
        'opendkim-conf': { type: 'string', arg: 'FILE', help: "opendkim.conf(5): its KeyTable and SigningTable are read" },
        keytable: { type: 'string', arg: 'FILE', help: "OpenDKIM's KeyTable (`name domain:selector:keyfile` lines; file: prefix accepted)" },
        signingtable: { type: 'string', arg: '[refile:]FILE', help: "OpenDKIM's SigningTable: which domains each key signs for (refile: for wildcard patterns)" },
        domain: { type: 'string', arg: 'D', help: 'with --selector and --key: the domain of one key file' },
        selector: { type: 'string', arg: 'S', help: 'the selector of that key' },
        key: { type: 'string', arg: 'FILE', help: 'the PEM private key file (mode 0600 or stricter)' },
        nameserver: { type: 'string', multiple: true, arg: 'HOST[:PORT]', help: "an authoritative server to check the keys on (a hidden primary); repeat for more; default keys.domains.D.nameservers, else the domain's NS" },
      },
      exits: exits(
        OK('every key was imported or was in the store already'),
        { code: EX.DATAERR, meaning: 'a key file or table does not parse, or a key was not imported (the store holds keys of its algorithm for the domain: printed)' },
        { code: EX.NOINPUT, meaning: 'a key file or table does not exist' },
        { code: EX.TEMPFAIL, meaning: "a rotation held the domain's lease the whole time: run again later" },
        CONFIG_EXITS,
        STORE_EXITS,
        INTERNAL,
      ),
    },
  ],
} as const satisfies CommandSpec;
