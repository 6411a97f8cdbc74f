/**
 * Migrating from OpenDKIM with its real files: keys made by Debian's `opendkim-genkey`, a
 * KeyTable (with a `%` domain) and a refile SigningTable (`*@domain`, `*@*.domain`, another
 * domain's key, a per-user rule, a catch-all), found through an opendkim.conf. After
 * `keys import` and the configuration it prints, mailanchor signs each From address with the
 * same d= and s= as OpenDKIM itself (run as the reference signer on the same tables) — except
 * the rules it reports as not carried over — and python3-dkim verifies every signature against
 * the records opendkim-genkey wrote, served by Knot. A key DNS does not serve yet enters as
 * published and `keys rotate` activates it once every nameserver serves it.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { run as keysCli } from '../../src/cli/keys.ts';
import { MilterClient, sendMessage } from '../../src/milter/mta-client.ts';
import { captureIo } from '../support/cli-io.ts';
import { pythonDkimVerifyDns } from '../support/dkim-verifiers.ts';
import { knotMissing, startKnot, type KnotServer } from '../support/knot.ts';
import { startMilterProcess, type MilterProcess } from '../support/milter-process.ts';
import { signaturesOf, startOpendkimSigner, type OpendkimSigner } from '../support/opendkim-signer.ts';
import { opendkimMissing } from '../support/opendkim-verifier.ts';

const GENKEY = '/usr/sbin/opendkim-genkey';
const missing = knotMissing() ?? opendkimMissing() ?? (existsSync(GENKEY) ? undefined : `${GENKEY} (Debian opendkim-tools) not installed`) ?? (existsSync('/usr/lib/python3/dist-packages/dkim') ? undefined : 'python3-dkim not installed');
const it = missing ? test.serial.skip : test.serial;
if (missing) test.skip(`OpenDKIM migration: ${missing}`, () => {});

let dir = '';
let knot: KnotServer;
let signer: OpendkimSigner | undefined;
let milter: MilterProcess | undefined;
let conf = '';
let cfg = '';
let store = '';
let printed = '';

/** `opendkim-genkey -d DOMAIN -s SELECTOR -D DIR`; returns the TXT record line for Knot, built from its .txt file. */
function genkey(keyDir: string, domain: string, selector: string): string {
  mkdirSync(keyDir, { recursive: true });
  execFileSync(GENKEY, ['-b', '2048', '-d', domain, '-s', selector, '-D', keyDir]);
  const txt = readFileSync(join(keyDir, `${selector}.txt`), 'utf8');
  const strings = [...txt.matchAll(/"([^"]*)"/g)].map((m) => `"${m[1]}"`);
  return `${selector}._domainkey 1 IN TXT ${strings.join(' ')}`;
}

test.before(async () => {
  if (missing) return;
  dir = await mkdtemp(join(tmpdir(), 'mailanchor-opendkim-'));
  const keys = join(dir, 'etc-opendkim', 'keys');
  const impRecord = genkey(join(keys, 'imp.test'), 'imp.test', 'mail');
  genkey(join(keys, 'imp.test'), 'imp.test', 'old');
  genkey(join(keys, 'special'), 'imp.test', 'ceo');
  const sharedRecord = genkey(join(keys, 'shared'), 'hosted.test', 'default');
  const keyTable = join(dir, 'etc-opendkim', 'KeyTable');
  writeFileSync(
    keyTable,
    [
      '# OpenDKIM KeyTable: name  domain:selector:keyfile',
      `mail._domainkey.imp.test   imp.test:mail:${join(keys, 'imp.test', 'mail.private')}`,
      `ceo-key                    imp.test:ceo:${join(keys, 'special', 'ceo.private')}`,
      `shared                     %:default:${join(keys, 'shared', 'default.private')}`,
      `old._domainkey.imp.test    imp.test:old:${join(keys, 'imp.test', 'old.private')}   # before the 2025 rotation`,
      '',
    ].join('\n'),
  );
  const signingTable = join(dir, 'etc-opendkim', 'SigningTable');
  writeFileSync(
    signingTable,
    ['# refile: first match wins', 'ceo@imp.test     ceo-key', '*@imp.test       mail._domainkey.imp.test', '*@*.imp.test     mail._domainkey.imp.test', '*@alias.test     mail._domainkey.imp.test', '*@hosted.test    shared', '*@other.test     shared', '*                mail._domainkey.imp.test', ''].join('\n'),
  );
  conf = join(dir, 'etc-opendkim', 'opendkim.conf');
  writeFileSync(conf, ['Syslog yes', 'Mode sv', `KeyTable file:${keyTable}`, `SigningTable refile:${signingTable}`, 'OversignHeaders From', ''].join('\n'));
  // Port 53 of a random loopback address: the zones' NS records lead there, as in production
  // (the import finds each domain's authoritative servers from its NS, like rotation).
  const zones = (host: string) =>
    [
      ['imp.test', impRecord],
      ['hosted.test', sharedRecord],
      ['other.test', ''], // its copy of the shared key is not published yet
      ['alias.test', ''],
    ].map(([name, records]) => ({ name: name!, records: `@ 300 IN SOA ns1 hostmaster 1 3600 600 86400 1\n@ 300 IN NS ns1\nns1 300 IN A ${host}\n${records}` }));
  let last: unknown;
  for (let i = 0; i < 5 && !knot; i++) {
    const host = `127.80.${1 + Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`;
    try {
      knot = await startKnot({ host, port: 53, zones: zones(host) });
    } catch (err) {
      last = err;
    }
  }
  if (!knot) throw last;
  store = join(dir, 'mailanchor.db');
  cfg = join(dir, 'mailanchor.yml');
  writeFileSync(cfg, stringify({ dns: { servers: [`${knot.server.host}:${knot.server.port}`], timeout: '500ms', attempts: 1 }, store: { path: store } }));
  signer = await startOpendkimSigner(dir, { keyTable: `file:${keyTable}`, signingTable: `refile:${signingTable}` });
});
test.after.always(async () => {
  await milter?.stop();
  await signer?.stop();
  await knot?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function cli(...argv: string[]) {
  const io = captureIo(dir);
  const code = await keysCli(argv, io);
  return { code, out: io.out(), err: io.err() };
}

it('keys import --opendkim-conf: the keys the SigningTable uses, each through DNS and the lifecycle; what is not carried over is named', async (t) => {
  const r = await cli('import', '--opendkim-conf', conf, '--config', cfg);
  t.log(r.out + r.err);
  t.is(r.code, 0);
  printed = r.out;
  t.regex(r.out, /^imp\.test mail: imported rsa-sha256 from \S+mail\.private as active \(SigningTable line 3, 4, 5\)$/m);
  t.regex(r.out, /^hosted\.test default: imported rsa-sha256 from \S+default\.private as active \(SigningTable line 6\)$/m);
  t.regex(r.out, /^other\.test default: imported rsa-sha256 .* as published \(SigningTable line 7\) — not yet served as is by every authoritative nameserver \(seen on 0 of 1 nameservers; [^)]*not served yet\); `keys rotate` activates it once it is$/m);
  t.regex(r.out, /^note: SigningTable line 2 \(ceo@imp\.test ceo-key\): not carried over: a per-address rule/m);
  t.regex(r.out, /^note: SigningTable line 8 \(\* mail\._domainkey\.imp\.test\): not carried over: a catch-all rule/m);
  t.regex(r.out, /^note: KeyTable line 5 \(old\._domainkey\.imp\.test\): no SigningTable rule uses it; not imported$/m);
  t.regex(r.out, /^note: KeyTable line 3 \(ceo-key\): no SigningTable rule uses it; not imported$/m);
  const list = await cli('list', '--config', cfg);
  t.deepEqual(list.out.trim().split('\n').map((l) => l.split(' ').slice(0, 4).join(' ')).sort(), ['hosted.test default rsa-sha256 active', 'imp.test mail rsa-sha256 active', 'other.test default rsa-sha256 published']);
  const again = await cli('import', '--opendkim-conf', conf, '--config', cfg);
  t.regex(again.out, /^imp\.test mail: already in the store, skipped$/m, 'idempotent');
});

it('the printed configuration is valid YAML that puts the imported domains into rotation; keys rotate activates the key once DNS serves it', async (t) => {
  const snippet = printed.slice(printed.indexOf('# Add to mailanchor.yml'));
  const added = parse(snippet) as { keys: { domains: Record<string, { algorithms: string[] }> }; outbound: { sign_subdomains: boolean; signing_domains: Record<string, string> } };
  t.deepEqual(Object.keys(added.keys.domains).sort(), ['hosted.test', 'imp.test', 'other.test']);
  t.deepEqual(added.keys.domains['imp.test']!.algorithms, ['rsa-sha256'], 'only the key types it had: rotation generates no type nobody publishes');
  t.deepEqual(added.outbound.signing_domains, { 'alias.test': 'imp.test' });
  t.true(added.outbound.sign_subdomains);
  // Before the config lists them, rotate says nothing rotates them.
  const before = await cli('rotate', '--config', cfg);
  t.regex(before.out, /^other\.test: not rotated: it has keys in the store but is not in keys.domains/m);
  // The test's own margin: TTL 1 s records, no extra wait.
  const base = parse(readFileSync(cfg, 'utf8')) as Record<string, unknown>;
  for (const d of Object.values(added.keys.domains)) Object.assign(d, { ttl: '1s', ttl_margin: '0s' });
  writeFileSync(cfg, stringify({ ...base, ...added }));
  const record = readFileSync(join(dir, 'etc-opendkim', 'keys', 'shared', 'default.txt'), 'utf8');
  await knot.setRecords('other.test', [{ name: 'default._domainkey', type: 'TXT', ttl: 1, data: [...record.matchAll(/"([^"]*)"/g)].map((m) => `"${m[1]}"`).join(' ') }]);
  const first = await cli('rotate', '--config', cfg);
  t.is(first.code, 0, first.out + first.err);
  t.regex(first.out, /other\.test:\n\s+default\s+rsa-sha256\s+published .*seen on all 1 nameservers; waiting for TTL \+ margin/);
  await new Promise((r) => setTimeout(r, 1200));
  const second = await cli('rotate', '--config', cfg);
  t.regex(second.out, /other\.test:\n\s+did: default → active/);
  t.notRegex(second.out, /generated/, 'no new key: the imported ones count their lifetime from the import');
  const list = await cli('list', '--config', cfg);
  t.is(list.out.trim().split('\n').filter((l) => / active /.test(l)).length, 3);
});

it('mailanchor signs each From address with the d= and s= OpenDKIM signs it with; python3-dkim verifies every signature from the genkey records', async (t) => {
  milter = await startMilterProcess(['--config', cfg]);
  const ours = async (from: string) => {
    const c = await MilterClient.connect(`inet:127.0.0.1:${milter!.port}`);
    try {
      await c.negotiate();
      const headers: Array<[string, string]> = [['From', ` <${from}>`], ['To', ' bob@example.net'], ['Subject', ' migration'], ['Date', ' Tue, 01 Dec 2026 10:00:00 +0000']];
      const body = 'Signed by mailanchor.\r\n';
      const r = await sendMessage(c, { client: { hostname: 'localhost', address: '127.0.0.1' }, from, rcpts: ['bob@example.net'], headers, body });
      const sigs = signaturesOf(r.eom?.modifications ?? []);
      const raw = Buffer.from([...sigs.map((s) => `DKIM-Signature:${s.value.startsWith(' ') ? '' : ' '}${s.value.replace(/\r?\n/g, '\r\n')}`), ...headers.map(([k, v]) => `${k}:${v}`)].join('\r\n') + `\r\n\r\n${body}`, 'latin1');
      return { sigs, verified: sigs.length ? await pythonDkimVerifyDns(raw, knot.server) : [] };
    } finally {
      c.quit();
    }
  };
  const same = ['alice@imp.test', 'bob@sub.imp.test', 'carol@alias.test', 'dave@hosted.test', 'erin@other.test'];
  for (const from of same) {
    const theirs = (await signer!.sign(from)).map((s) => `${s.d}/${s.s}`);
    const mine = await ours(from);
    t.deepEqual(mine.sigs.map((s) => `${s.d}/${s.s}`), theirs, from);
    t.deepEqual(mine.verified, [true], `${from}: python3-dkim verifies`);
  }
  // What the import named as not carried over, and nothing else, differs.
  t.deepEqual((await signer!.sign('ceo@imp.test')).map((s) => `${s.d}/${s.s}`), ['imp.test/ceo']);
  t.deepEqual((await ours('ceo@imp.test')).sigs.map((s) => `${s.d}/${s.s}`), ['imp.test/mail'], 'per-address rule not carried over: the domain key signs');
  t.deepEqual((await signer!.sign('x@unknown.test')).map((s) => `${s.d}/${s.s}`), ['imp.test/mail']);
  t.deepEqual((await ours('x@unknown.test')).sigs, [], 'catch-all not carried over: no signature for a domain we have no key for');
});

it('keys retire goes through the lifecycle: a retired key cannot be retired again; an unknown selector is a usage error', async (t) => {
  const r = await cli('retire', '--domain', 'hosted.test', '--selector', 'default', '--config', cfg);
  t.is(r.code, 0, r.out + r.err);
  t.regex(r.out, /^hosted\.test default: retired \(stays published for 7 days\)$/m);
  t.regex(r.err, /no active rsa-sha256 key left for hosted\.test/);
  const again = await cli('retire', '--domain', 'hosted.test', '--selector', 'default', '--config', cfg);
  t.is(again.code, 64);
  t.regex(again.err, /default is retired; only active or published keys can be retired/);
  t.is((await cli('retire', '--domain', 'hosted.test', '--selector', 'nope', '--config', cfg)).code, 64);
});
